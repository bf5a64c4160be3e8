#!/usr/bin/env bash
# Prints the proof suite's summary table from the lines its passing checks left
# (area, check, figures; tab-separated), grouped by area.
set -euo pipefail
file=${1:-target/tmp/proof-summary.tsv}
if [ ! -s "$file" ]; then
  echo "proof summary: no lines in $file (was the suite run?)"
  exit 0
fi
echo
echo "== proof of reliability: $(wc -l < "$file") checks passed =="
sort -t$'\t' -k1,1 -k2,2 "$file" | awk -F'\t' '
  $1 != area { area = $1; printf "\n%s\n", area }
  { printf "  %-48s %s\n", $2, $3 }'
