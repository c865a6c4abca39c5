#!/usr/bin/perl
# Finds exit statuses written as bare numbers in the given C++ files (scripts/check-exit-codes.sh).
# An exit status is named (exitcode:: in src/core/exit_codes.h, or a named constant of the module
# for a helper child's internal status). Flags, with comments and string literals ignored:
#   - a number in the argument of exit(), _exit(), _Exit(), quick_exit();
#   - a number as the status of an Error: with_status(N, ...), .status(N), invalid(..., N);
#   - `return N;` with N > 0 (0 is also a count or false; -1 the errno convention, never a status);
#   - a wait/exit status compared with a number (`code == 126`, `rc != 100`).
use strict;
use warnings;

my $num = qr/(?<![\w.])\d+(?![\w.])/;
my $bad = 0;
for my $file (@ARGV) {
  open(my $fh, '<', $file) or die "$file: $!";
  local $/;
  my $text = <$fh>;
  close($fh);
  # Blank out comments, string and character literals, keeping newlines (for line numbers).
  $text =~ s{(//[^\n]*|/\*.*?\*/|R"(\w*)\(.*?\)\2"|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')}
            { my $m = $1; $m =~ s/[^\n]/ /g; $m }gse;
  my @hits;
  # Calls whose argument list (balanced parentheses) names a status.
  while ($text =~ /\b(_exit|exit|_Exit|quick_exit|with_status|status|invalid)\s*(\((?:[^()]++|(?2))*\))/g) {
    my ($fn, $args, $end) = ($1, $2, pos($text));
    my $start = $end - length($args) - length($fn);
    next if $fn eq 'status' && substr($text, 0, $start) !~ /\.\s*$/;  # only the .status(N) setter
    if ($fn eq 'invalid') {  # invalid(what, exit_status): the second argument
      my $inner = substr($args, 1, -1);
      my $depth = 0; my $i = 0; my $cut = -1;
      for my $c (split //, $inner) {
        $depth++ if $c eq '(';
        $depth-- if $c eq ')';
        if ($c eq ',' && $depth == 0) { $cut = $i; last }
        $i++;
      }
      next if $cut < 0;
      $args = substr($inner, $cut + 1);
    }
    next if $args =~ /\bint\b/;   # a declaration: `int exit_status = 0` is the unset default
    $args =~ s/\[[^\[\]]*\]//g;   # an index (`w[1]`) is no status
    push @hits, [$start, "$fn(...) with a numeric status"] if $args =~ $num;
  }
  while ($text =~ /\breturn\s+\(?\s*([1-9]\d*)\s*\)?\s*;/g) {
    push @hits, [pos($text) - length($&), "return $1;"];
  }
  while ($text =~ /\b(code|rc|status|exit_status\(\)|exit_code_of\([^()]*\))\s*(==|!=)\s*([1-9]\d*)\b/g) {
    push @hits, [pos($text) - length($&), "$1 $2 $3"];
  }
  for my $h (sort { $a->[0] <=> $b->[0] } @hits) {
    my $line = (substr($text, 0, $h->[0]) =~ tr/\n//) + 1;
    print "$file:$line: bare exit status: $h->[1]\n";
    $bad++;
  }
}
exit($bad ? 1 : 0);
