#!/usr/bin/env bash
# The consumer-install check (`npm run test:install`): packs this package, installs the tarball
# into a fresh project with exactly the line the README's Install section gives (npm cache
# first), compiles a strict consumer against it and runs it against a local receiver.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The install line, taken from the README so the two cannot drift apart.
line="$(sed -n '/^## Install/,/^## /p' "$root/README.md" | grep -m1 '^npm i servo-webhooks ' || true)"
if [ -z "$line" ]; then echo "test:install: no 'npm i servo-webhooks ...' line in the README's Install section" >&2; exit 1; fi

cd "$root"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n1)"
echo "packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"
tar -tzf "$work/$tarball" > "$work/files.txt"
# Every declaration map must point at a source file that ships.
for map in $(grep '\.d\.ts\.map$' "$work/files.txt"); do
  source="$(tar -xzOf "$work/$tarball" "$map" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).sources[0]))')"
  resolved="$(node -e 'const p=require("node:path");console.log(p.posix.normalize(p.posix.join(p.posix.dirname(process.argv[1]),process.argv[2])))' "$map" "$source")"
  grep -qx "$resolved" "$work/files.txt" || { echo "test:install: $map points at $resolved, which is not in the package" >&2; exit 1; }
done
grep -qx 'package/LICENSE' "$work/files.txt" || { echo "test:install: LICENSE is not in the package" >&2; exit 1; }

mkdir "$work/consumer"
cp "$root/test/install/consumer/consumer.ts" "$root/test/install/consumer/tsconfig.json" "$work/consumer/"
cd "$work/consumer"
printf '{ "name": "consumer", "private": true, "type": "module" }\n' > package.json
echo "\$ ${line/servo-webhooks /servo-webhooks (the tarball) }"
# shellcheck disable=SC2086
${line/servo-webhooks /$work/$tarball } --prefer-offline --no-audit --no-fund --loglevel=error
npm i -D --prefer-offline --no-audit --no-fund --loglevel=error typescript@~5.9 @types/node@^20
count="$(npm ls effect --all --parseable 2>/dev/null | sort -u | wc -l)"
[ "$count" = "1" ] || { npm ls effect --all; echo "test:install: $count copies of effect installed" >&2; exit 1; }
npx tsc -p .
node dist/consumer.js
