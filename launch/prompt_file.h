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
// Blank lines are skipped. Throws slkv::Error naming the file and line.
std::vector<std::string> read_evaluation_prompts(const std::filesystem::path& path, const std::string& dataset = "");

}  // namespace slkv
