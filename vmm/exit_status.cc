#include "vmm/exit_status.h"

#include <fmt/format.h>

#include <algorithm>

namespace wisp {
namespace {

std::string without_code_marks(std::string_view text) {
  std::string plain(text);
  std::erase(plain, '`');
  return plain;
}

// A table cell: a literal | would end the cell.
std::string markdown_cell(std::string_view text) {
  std::string cell;
  for (char c : text) {
    if (c == '|') cell += '\\';
    cell += c;
  }
  return cell;
}

}  // namespace

std::string exit_status_help() {
  size_t width = 0;
  for (const ExitStatusMeaning& row : kExitStatusTable)
    width = std::max(width, without_code_marks(row.status).size());
  std::string text = "Exit status:";
  for (const ExitStatusMeaning& row : kExitStatusTable)
    text += fmt::format("\n  {:<{}}  {}", without_code_marks(row.status), width,
                        without_code_marks(row.meaning));
  return text;
}

std::string exit_status_markdown() {
  std::string table = "| status | meaning |\n| --- | --- |\n";
  for (const ExitStatusMeaning& row : kExitStatusTable)
    table += fmt::format("| {} | {} |\n", markdown_cell(row.status), markdown_cell(row.meaning));
  return table;
}

}  // namespace wisp
