#include "launch/eval/heat_map.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "core/error.h"

namespace slkv {
namespace {

// A gnuplot single-quoted string: only the quote itself is special.
std::string gnuplot_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// A gnuplot double-quoted string ("\n" is a newline there).
std::string gnuplot_text(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n') out += "\\n";
    else if (c == '"' || c == '\\') out += std::string("\\") + c;
    else out += c;
  }
  return out + "\"";
}

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path);
  if (!(file << text)) throw Error("cannot write " + path.string());
}

}  // namespace

std::string heat_map_script(const HeatMap& map, const std::filesystem::path& data, const std::filesystem::path& png) {
  std::ostringstream gp;
  gp << "set terminal pngcairo size 1000,640 font \"Sans,11\"\n"
     << "set output " << gnuplot_quoted(png.string()) << "\n"
     << "set termoption noenhanced\n"
     << "set title " << gnuplot_text(map.title) << "\n"
     << "set xlabel \"Token Limit\"\nset ylabel \"Depth Percent\"\nset cblabel \"Score\"\n"
     // The original's colormap: #F0496E (0) -> #EBB839 -> #0CD79F (100).
     << "set palette defined (0 \"#F0496E\", 50 \"#EBB839\", 100 \"#0CD79F\")\nset cbrange [0:100]\n"
     << "set xrange [-0.5:" << static_cast<double>(map.lengths.size()) - 0.5 << "]\n"
     << "set yrange [" << static_cast<double>(map.depths.size()) - 0.5 << ":-0.5]\n"  // depth 0 on top
     << "set tics out nomirror\nunset key\n";
  gp << "set xtics (";
  for (size_t i = 0; i < map.lengths.size(); ++i) gp << (i ? ", " : "") << '"' << map.lengths[i] << "\" " << i;
  gp << ")\nset ytics (";
  for (size_t i = 0; i < map.depths.size(); ++i) gp << (i ? ", " : "") << '"' << number(map.depths[i]) << "\" " << i;
  gp << ")\n";
  // One filled box per cell (any grid size, unlike `with image`; a hair wider than half
  // a cell so that no seam shows), its score printed on it.
  gp << "plot " << gnuplot_quoted(data.string())
     << " using 1:2:(0.505):(0.505):3 with boxxyerror fillstyle solid 1.0 noborder fillcolor palette, \\\n"
     << "     '' using 1:2:(sprintf(\"%.0f\", $3)) with labels textcolor \"#303030\"\n";
  return gp.str();
}

void render_heat_map(const HeatMap& map, const std::filesystem::path& png) {
  std::filesystem::path data = png, script = png;
  data.replace_extension(".tsv");
  script.replace_extension(".gp");
  std::ostringstream tsv;
  tsv << "# length_index\tdepth_index\tscore\tlength\tdepth\n";
  for (size_t x = 0; x < map.lengths.size(); ++x)
    for (size_t y = 0; y < map.depths.size(); ++y)
      tsv << x << '\t' << y << '\t' << map.scores.at(x).at(y) << '\t' << map.lengths[x] << '\t'
          << number(map.depths[y]) << '\n';
  write_file(data, tsv.str());
  write_file(script, heat_map_script(map, data, png));
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0)
    throw Error("cannot draw " + png.string() + ": gnuplot is not installed (scripts/setup.sh installs gnuplot-nox); " +
                "the data and script are in " + data.string() + " and " + script.string());
  std::filesystem::remove(png);
  const int status = std::system(("gnuplot " + shell_quoted(script.string())).c_str());
  if (status != 0 || !std::filesystem::exists(png))
    throw Error("gnuplot failed drawing " + png.string() + " from " + script.string() + " (exit status " +
                std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : status) + ")");
}

}  // namespace slkv
