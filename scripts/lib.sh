# Shared set-up steps for scripts/start and scripts/test. Every step is idempotent:
# it checks first and installs or starts only what is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DENO_VERSION=2.9.6
TOOLS="$ROOT/.tools"
DENO="$TOOLS/node_modules/@deno/linux-$( [ "$(uname -m)" = aarch64 ] && echo arm64 || echo x64)-glibc/deno"
APT_PACKAGES=(etcd-server etcd-client docker.io busybox-static iproute2 iptables dnsutils openssl curl util-linux)
TEST_IMAGE=fossora-test/busybox:1

say() { echo "setup: $*" >&2; }

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  sudo_if_needed apt-get update -q >/dev/null
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

install_deno() {
  if [ -x "$DENO" ] && "$DENO" --version 2>/dev/null | grep -q "deno $DENO_VERSION"; then return 0; fi
  say "installing deno $DENO_VERSION into .tools/"
  mkdir -p "$TOOLS"
  [ -f "$TOOLS/package.json" ] || echo '{"private":true}' > "$TOOLS/package.json"
  (cd "$TOOLS" && npm install --no-audit --no-fund --silent "deno@$DENO_VERSION" >/dev/null 2>&1)
  "$DENO" --version >/dev/null
}

install_npm_deps() {
  (cd "$ROOT" && "$DENO" install --quiet >/dev/null 2>&1 || "$DENO" install)
}

docker_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_dockerd() {
  docker_up && return 0
  say "starting dockerd (log: /var/log/fossora-dockerd.log)"
  setsid nohup dockerd >/var/log/fossora-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 120); do docker_up && return 0; sleep 0.5; done
  say "dockerd did not come up; see /var/log/fossora-dockerd.log"; return 1
}

# Tests cannot pull: a one-layer image with busybox (httpd, sh, nc...) built locally.
build_test_image() {
  docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 && return 0
  say "building $TEST_IMAGE from busybox-static"
  local dir; dir=$(mktemp -d)
  mkdir -p "$dir/bin" "$dir/www" "$dir/tmp" "$dir/etc"
  cp /bin/busybox "$dir/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$dir/bin/$a"; done
  echo 'hello from fossora-test' > "$dir/www/index.html"
  echo 'root:x:0:0:root:/:/bin/sh' > "$dir/etc/passwd"
  tar -C "$dir" -c . | docker import -c 'CMD ["/bin/httpd","-f","-p","80","-h","/www"]' - "$TEST_IMAGE" >/dev/null
  rm -rf "$dir"
}

# A WebSocket-capable backend for tests: the deno binary and the libraries it links, nothing else.
# The test passes its server code with `deno eval`, so the image never needs rebuilding.
DENO_TEST_IMAGE=fossora-test/deno:1
build_deno_test_image() {
  docker image inspect "$DENO_TEST_IMAGE" >/dev/null 2>&1 && return 0
  say "building $DENO_TEST_IMAGE from .tools' deno"
  local dir lib; dir=$(mktemp -d)
  mkdir -p "$dir/bin" "$dir/tmp"
  chmod 1777 "$dir/tmp"
  cp "$DENO" "$dir/bin/deno"
  for lib in $(ldd "$DENO" | grep -oE '/[^ ]+\.so[^ ]*'); do
    mkdir -p "$dir$(dirname "$lib")"; cp -L "$lib" "$dir$lib"
  done
  tar -C "$dir" -c . | docker import -c 'ENV DENO_DIR=/tmp/deno HOME=/tmp NO_COLOR=1' \
    -c 'ENTRYPOINT ["/bin/deno"]' - "$DENO_TEST_IMAGE" >/dev/null
  rm -rf "$dir"
}

setup_all() {
  install_apt "${APT_PACKAGES[@]}" "$@"
  install_deno
  install_npm_deps
  start_dockerd
}
