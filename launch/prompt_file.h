#pragma once
// Reads evaluation prompts from a file: one prompt per line, as a JSON
// string, a LongBench/RULER JSON object, or plain text.
#include <filesystem>
#include <string>
#include <vector>

namespace slkv {

// A JSON object line becomes its "input" field, preceded by its "context"
// field when present; with a LongBench dataset name, the dataset's template
// from dataset2prompt.json beside the file ({context}, {input}) is used.
// Blank lines are skipped; "-" reads standard input (a dataset template is
// then looked up in the working directory). Throws slkv::Error naming the
// file and line, of invalid UTF-8 too.
std::vector<std::string> read_evaluation_prompts(const std::filesystem::path& path, const std::string& dataset = "");

}  // namespace slkv
