#!/usr/bin/env python3
"""Prints one Stryker.NET --mutate pattern per source file: the exact spans of the mutants a previous run left
undetected (Survived or NoCoverage), so that a re-run after new tests tests only those (spec/mutation-testing.md).

    undetected-spans.py REPORT.json REPO_ROOT

Stryker.NET reads a span as {start..end} in characters of the file. A file changed since the report is followed
line by line (unchanged lines keep their mutants; a mutant on a changed line is left out and counted on stderr).
"""
import difflib
import json
import os
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    report_path, root = sys.argv[1], sys.argv[2]
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    lost = kept = 0
    for path, entry in sorted(report["files"].items()):
        undetected = [m for m in entry["mutants"] if m["status"] in ("Survived", "NoCoverage")]
        if not undetected:
            continue
        marker = path.replace("\\", "/").rfind("/src/")
        if marker < 0:
            print(f"skipped (not under src/): {path}", file=sys.stderr)
            continue
        relative = path.replace("\\", "/")[marker + 1:]
        with open(os.path.join(root, relative), encoding="utf-8") as f:
            current = f.read()
        old_lines, new_lines = entry["source"].split("\n"), current.split("\n")
        line_map = {}
        for tag, i1, i2, j1, _ in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes():
            if tag == "equal":
                for k in range(i2 - i1):
                    line_map[i1 + k + 1] = j1 + k + 1
        starts = [0] + [i + 1 for i, c in enumerate(current) if c == "\n"]
        spans = set()
        for mutant in undetected:
            start, end = mutant["location"]["start"], mutant["location"]["end"]
            if start["line"] not in line_map or end["line"] not in line_map:
                lost += 1
                continue
            a = starts[line_map[start["line"]] - 1] + start["column"] - 1
            b = starts[line_map[end["line"]] - 1] + end["column"] - 1
            spans.add((a, b))
            kept += 1
        if spans:
            # The glob matches the file by its folder and name (the config's project is src/LockFree.Auth).
            folder_and_name = "/".join(relative.split("/")[-2:])
            print("**/" + folder_and_name + "".join(f"{{{a}..{b}}}" for a, b in sorted(spans)))
    print(f"{kept} undetected mutants kept, {lost} on changed lines left out", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
