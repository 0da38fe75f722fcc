# shellcheck shell=bash
# Target `ministack`: a LocalStack-like single endpoint (PyPI `ministack`) whose Athena runs
# real SQL through DuckDB over Glue tables. It binds to BIND_HOST (default 0.0.0.0), so it
# runs on the host, bound to 127.0.0.1; its IoT mTLS listener would bind 0.0.0.0:8883
# whatever BIND_HOST says, and is switched off (so is the SFTP listener).
# shellcheck disable=SC2034 # read by run.sh
TARGET_NETNS=0
TARGET_TEST_NAME=ministack
MS_VERSION="${MINISTACK_VERSION:-1.5.33}"
MS_DUCKDB_VERSION=2.0.1
MS_HOME="$WORK/ministack"
MS_VENV="$MS_HOME/venv"

target_install() {
  python_venv "$MS_VENV" 11 "ministack==$MS_VERSION" "duckdb==$MS_DUCKDB_VERSION"
}

target_start() {
  local port
  port="$(free_port)"
  rm -rf "$MS_HOME/state"; mkdir -p "$MS_HOME/state/tmp" "$MS_HOME/state/s3"
  start_bg ministack env --chdir="$MS_HOME/state" \
    GATEWAY_PORT="$port" BIND_HOST=127.0.0.1 \
    IOT_MTLS_ENABLED=0 SFTP_ENABLED=0 ATHENA_ENGINE=duckdb \
    S3_DATA_DIR="$MS_HOME/state/s3" TMPDIR="$MS_HOME/state/tmp" LOG_LEVEL=WARNING \
    "$MS_VENV/bin/python" -m ministack
  wait_http "http://127.0.0.1:$port/_ministack/ready" 60 "$BG_PID" 2xx \
    || { tail -30 "$WORK/run/ministack/server.log" >&2; return 1; }
  export TESSERA_ENDPOINT="http://127.0.0.1:$port"
}

target_stop() { stop_target ministack 10; }
