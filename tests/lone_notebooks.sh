#!/usr/bin/env bash
# `make test`'s notebook check: nbval re-runs each chapter as a Colab reader opens it, from a copy of
# its notebook alone in an empty folder outside the checkout (so that nothing it reads can come from
# its working directory), compares every output with the committed one, and prints each chapter's time.
#
# LONE_WORKERS chapters run side by side (default 2). The chapters share the data folder: a mock field
# or a chapter model asked for by two of them at once is built by one while the other waits for it
# (asteris.mock.datasets, asteris.book.chapter_run), so the results are those of a run in turn. The
# chapters are started longest first, so that the two lanes end close together.
set -uo pipefail
python=${1:-.venv/bin/python}
workers=${LONE_WORKERS:-2}
# side by side, a chapter's idle OpenMP threads sleep instead of spinning on the core the other one needs
# (the results are the same)
if [ "$workers" -gt 1 ]; then export OMP_WAIT_POLICY=PASSIVE; fi
lone=$(mktemp -d)
trap 'rm -rf "$lone"' EXIT
longest_first=(03_injection_recovery 05_photoz_candidates 01_mock_universe 06_uv_luminosity_function
               04_cross_instrument 02_train_and_denoise)
chapters=()
for name in "${longest_first[@]}"; do [ -f "notebooks/$name.ipynb" ] && chapters+=("$name"); done
for notebook in notebooks/*.ipynb; do  # a chapter not in the list runs last
  name=$(basename "$notebook" .ipynb)
  [[ " ${chapters[*]} " == *" $name "* ]] || chapters+=("$name")
done

run_chapter() {  # name: nbval on the lone copy; its output and exit status go to $lone/<name>.{log,rc}
  local name=$1 start=$SECONDS
  mkdir "$lone/$name"
  cp "notebooks/$name.ipynb" "$lone/$name/"
  ASTERIS_LAYOUT=channels_last "$python" -m pytest --nbval --nbval-current-env \
    --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider --rootdir . "$lone/$name/$name.ipynb" \
    >"$lone/$name.log" 2>&1
  echo $? >"$lone/$name.rc"
  echo "lone notebook $name: $((SECONDS - start)) s" >>"$lone/$name.log"
}

start=$SECONDS
running=0
for name in "${chapters[@]}"; do
  if [ "$running" -ge "$workers" ]; then wait -n; running=$((running - 1)); fi
  run_chapter "$name" &
  running=$((running + 1))
done
wait
failed=()
for name in "${chapters[@]}"; do
  cat "$lone/$name.log"
  [ "$(cat "$lone/$name.rc" 2>/dev/null)" = 0 ] || failed+=("$name")
done
echo "lone notebooks: ${#chapters[@]} chapters, $workers side by side, $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed under nbval: ${failed[*]}"
  exit 1
fi
