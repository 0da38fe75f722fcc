# shellcheck shell=bash
# Target `dynamodb-local`: AWS's DynamoDB Local (Maven Central) for DynamoDB, the rest of
# the services embedded in the test process. DynamoDB Local binds every interface and has
# no host option, so run.sh runs it — and the tests — in a private network namespace.
# shellcheck disable=SC2034 # read by run.sh
TARGET_NETNS=1
TARGET_TEST_NAME=dynamodb-local
DDB_LOCAL_VERSION="${DDB_LOCAL_VERSION:-3.3.1}"
DDB_LOCAL_DIR="$WORK/dynamodb-local/$DDB_LOCAL_VERSION"

target_install() {
  command -v java >/dev/null || die "java not found (Debian package: openjdk-17-jre-headless)"
  maven_fetch "software.amazon.dynamodb:DynamoDBLocal:$DDB_LOCAL_VERSION" "$DDB_LOCAL_DIR"
  # sqlite4java looks for libsqlite4java-linux-amd64.so (and a versioned name) on java.library.path.
  local so
  so="$(ls "$DDB_LOCAL_DIR"/libsqlite4java-linux-amd64-*.so 2>/dev/null | head -1)"
  [[ -n "$so" ]] || die "sqlite4java native library missing in $DDB_LOCAL_DIR"
  ln -sf "$(basename "$so")" "$DDB_LOCAL_DIR/libsqlite4java-linux-amd64.so"
}

target_start() {
  local port
  port="$(free_port)"
  # 3.x moved the main class from com.amazonaws.services.dynamodbv2.local.main.ServerRunner.
  start_bg dynamodb-local \
    java -Xmx1g -Djava.library.path="$DDB_LOCAL_DIR" -cp "$DDB_LOCAL_DIR/*" \
      software.amazon.dynamodb.services.local.main.ServerRunner \
      -inMemory -disableTelemetry -port "$port"
  wait_http "http://127.0.0.1:$port/" 60 "$BG_PID" || { tail -20 "$WORK/run/dynamodb-local/server.log" >&2; return 1; }
  export TESSERA_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
}

target_stop() { stop_target dynamodb-local 10; }
