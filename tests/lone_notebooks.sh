#!/usr/bin/env bash
# `make test`'s notebook check: nbval re-runs each chapter as a Colab reader opens it, from a copy of
# its notebook alone in an empty folder outside the checkout (so that nothing it reads can come from
# its working directory), compares every output with the committed one, and prints each chapter's time.
set -uo pipefail
python=${1:-.venv/bin/python}
lone=$(mktemp -d)
trap 'rm -rf "$lone"' EXIT
failed=()
for notebook in notebooks/*.ipynb; do
  name=$(basename "$notebook" .ipynb)
  mkdir "$lone/$name"
  cp "$notebook" "$lone/$name/"
  start=$SECONDS
  ASTERIS_LAYOUT=channels_last "$python" -m pytest --nbval --nbval-current-env \
    --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider --rootdir . "$lone/$name/$name.ipynb" \
    || failed+=("$name")
  echo "lone notebook $name: $((SECONDS - start)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed under nbval: ${failed[*]}"
  exit 1
fi
