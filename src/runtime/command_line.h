// The command line of exec/exec2: vzctl joins its words and has the CT's shell run the string
// (`bash -c`, or `sh -c`). A string the shell would only split at spaces and run as one program
// is run directly instead, saving the shell's start in the CT (a bash start costs more than the
// rest of an `exec2 CTID /bin/true`): same program, same arguments, same exit status.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace berth::runtime {

// Pure. The words of `cmd` when a POSIX shell would run it as one simple command of a program
// looked up in PATH: only letters, digits, spaces and `_ - . / : = + , @ %`, the first word no
// variable assignment and none of the shell's keywords or builtins that have no program of the
// same name (cd, exit, export, ...). nullopt otherwise: the shell runs it. The caller still
// falls back to the shell when no program of the first word's name is found (a builtin, an
// alias of the CT's shell).
std::optional<std::vector<std::string>> simple_command(const std::string& cmd);

}  // namespace berth::runtime
