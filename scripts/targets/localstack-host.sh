# shellcheck shell=bash
# Target `localstack-host`: LocalStack's own runtime on the host, no Docker, every service at
# one endpoint (tests see TESSERA_TARGET=endpoint). Its gateway is told to listen on
# 127.0.0.1, but the DynamoDB Local and kinesis-mock children it spawns bind every
# interface on random ports, so run.sh runs it — and the tests — in a private network
# namespace. Everything it writes stays in .work/localstack/.
# shellcheck disable=SC2034 # read by run.sh
TARGET_NETNS=1
TARGET_TEST_NAME=endpoint
LS_VERSION="${LOCALSTACK_VERSION:-2026.3.0}"
LS_HOME="$WORK/localstack"
LS_VENV="$LS_HOME/venv"
LS_FS="$LS_HOME/filesystem"                     # FILESYSTEM_ROOT
LS_LIBS="$LS_FS/var/lib/localstack/lib"         # config.dirs.var_libs, where its packages are looked up
LS_DDB_VERSION=2.6.1                            # what its "dynamodb-local/2" package expects (ServerRunner in com.amazonaws...)
LS_KINESIS_MOCK_VERSION=0.5.2                   # localstack.services.kinesis.packages._KINESIS_MOCK_VERSION
BYTE_BUDDY_AGENT_VERSION=1.15.11

# Host mode, the hypercorn gateway (the default Twisted one ignores the listen host), no DNS
# server, no downloads or analytics at start, all state under .work/localstack/.
LS_ENV=(
  OVERRIDE_IN_DOCKER=0 GATEWAY_SERVER=hypercorn DNS_ADDRESS=0
  FILESYSTEM_ROOT="$LS_FS" HOME="$LS_HOME/home" TMPDIR="$LS_HOME/tmp"
  SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1
  KINESIS_MOCK_PROVIDER_ENGINE=node DYNAMODB_REMOVE_EXPIRED_ITEMS=1
)

target_install() {
  command -v java >/dev/null || die "java not found (Debian package: openjdk-17-jre-headless)"
  command -v npm >/dev/null || die "npm not found"
  # 1. The runtime, on CPython 3.13: 3.11 fails with a SyntaxError, and 3.12 with a TypeError
  #    in localstack.packages.api (`Lock | None`: threading.Lock is a class only since 3.13).
  #    Newer cbor2/pyopenssl/cryptography than these pins break it.
  local t0; t0=$(now_ms)
  python_venv "$LS_VENV" 13 "localstack-core[runtime]==$LS_VERSION" 'cbor2<6' 'pyopenssl==25.3.0' \
    'cryptography>=45.0.7,<47' service-identity
  log "localstack-host: runtime venv ready in $(elapsed "$t0" "$(now_ms)") s"; t0=$(now_ms)
  mkdir -p "$LS_HOME/home" "$LS_HOME/tmp" "$LS_LIBS"

  # 2. Java for its DynamoDB: it asks for Temurin 21 from a host that is unreachable here and
  #    takes any JAVA_HOME whose bin/java exists at lib/java/21 (the system JDK 17 runs DDB Local 2.x).
  local java_home
  java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
  [[ -x "$java_home/bin/java" ]] || die "cannot find JAVA_HOME of $(command -v java)"
  mkdir -p "$LS_LIBS/java"
  ln -sfn "$java_home" "$LS_LIBS/java/21"

  # 3. DynamoDB Local: it expects the download zip's layout (DynamoDBLocal.jar whose manifest
  #    names DynamoDBLocal_lib/*, native libraries in DynamoDBLocal_lib) plus a Java agent of its
  #    own (ddb-local-loader, from GitHub: lifts the 20-GSI limit). Stage the Maven Central
  #    artifacts in that layout: a manifest-only launcher jar and, as the agent, byte-buddy-agent
  #    (a real -javaagent jar whose premain does nothing but keep the Instrumentation).
  local ddb="$LS_LIBS/dynamodb-local/2"
  if [[ ! -f "$ddb/.complete" ]]; then
    rm -rf "$ddb"; mkdir -p "$ddb"
    maven_fetch "com.amazonaws:DynamoDBLocal:$LS_DDB_VERSION" "$WORK/dynamodb-local/$LS_DDB_VERSION"
    maven_fetch "net.bytebuddy:byte-buddy-agent:$BYTE_BUDDY_AGENT_VERSION" "$WORK/byte-buddy-agent/$BYTE_BUDDY_AGENT_VERSION"
    cp -r "$WORK/dynamodb-local/$LS_DDB_VERSION" "$ddb/DynamoDBLocal_lib" || die "cannot stage DynamoDB Local in $ddb"
    rm -f "$ddb/DynamoDBLocal_lib/.complete"
    local so
    so="$(cd "$ddb/DynamoDBLocal_lib" && ls libsqlite4java-linux-amd64-*.so | head -1)"
    ln -sf "$so" "$ddb/DynamoDBLocal_lib/libsqlite4java-linux-amd64.so"
    cp "$WORK/byte-buddy-agent/$BYTE_BUDDY_AGENT_VERSION/byte-buddy-agent-$BYTE_BUDDY_AGENT_VERSION.jar" "$ddb/ddb-local-loader-0.1.jar" \
      || die "byte-buddy-agent jar missing"
    "$LS_VENV/bin/python" - "$ddb" "$LS_DDB_VERSION" <<'PY' || die "cannot write the DynamoDB Local launcher jar"
import os, sys, zipfile
ddb, version = sys.argv[1], sys.argv[2]
libs = sorted(f for f in os.listdir(os.path.join(ddb, "DynamoDBLocal_lib")) if f.endswith(".jar"))
main = f"DynamoDBLocal-{version}.jar"
assert main in libs, libs
with zipfile.ZipFile(os.path.join(ddb, "DynamoDBLocal_lib", main)) as real:
    main_class = next(l.split(":", 1)[1].strip() for l in real.read("META-INF/MANIFEST.MF").decode().splitlines() if l.startswith("Main-Class:"))
# Manifest lines are at most 72 bytes; continuation lines start with one space.
value = " ".join(["."] + [f"DynamoDBLocal_lib/{j}" for j in libs])
header = "Class-Path: " + value
lines = [header[:72]] + [" " + header[72 + i:72 + i + 71] for i in range(0, max(0, len(header) - 72), 71)]
manifest = "Manifest-Version: 1.0\r\nMain-Class: " + main_class + "\r\n" + "\r\n".join(lines) + "\r\n\r\n"
with zipfile.ZipFile(os.path.join(ddb, "DynamoDBLocal.jar"), "w") as jar:
    jar.writestr("META-INF/MANIFEST.MF", manifest)
PY
    touch "$ddb/.complete"
  fi
  log "localstack-host: JDK link and DynamoDB Local $LS_DDB_VERSION staged in $(elapsed "$t0" "$(now_ms)") s"; t0=$(now_ms)

  # 4. kinesis-mock: it would `npm install` it on first use, which cannot work inside the
  #    namespace (no registry there): run its own installer now, into the same folder (with
  #    the user's HOME, so that npm keeps its own configuration).
  if [[ ! -f "$LS_LIBS/kinesis-local/$LS_KINESIS_MOCK_VERSION/node_modules/kinesis-local/main.js" ]]; then
    (cd "$LS_HOME" && env OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$LS_FS" "$LS_VENV/bin/python" -c \
      'from localstack.services.kinesis.packages import kinesismock_package as p; p.install(); print(p.get_installed_dir())') \
      >"$LS_HOME/kinesis-mock-install.log" 2>&1 \
      || { tail -20 "$LS_HOME/kinesis-mock-install.log" >&2; die "kinesis-mock install failed"; }
  fi
  log "localstack-host: kinesis-mock $LS_KINESIS_MOCK_VERSION ready in $(elapsed "$t0" "$(now_ms)") s"
}

target_start() {
  local port
  port="$(free_port)"
  LS_T0=$(now_ms)
  start_bg localstack-host env --chdir="$LS_HOME" "${LS_ENV[@]}" \
    GATEWAY_LISTEN="127.0.0.1:$port" LOCALSTACK_HOST="127.0.0.1:$port" \
    "$LS_VENV/bin/python" -m localstack.runtime.main
  wait_http "http://127.0.0.1:$port/_localstack/health" 120 "$BG_PID" \
    || { tail -30 "$WORK/run/localstack-host/server.log" >&2; return 1; }
  log "localstack-host: gateway ready in $(elapsed "$LS_T0" "$(now_ms)") s; warming DynamoDB Local and kinesis-mock"
  # Its DynamoDB Local (a JVM) and kinesis-mock start on first use, ~5 s here: a test's first
  # call would otherwise outlast the SDK's request timeout. Warm both before the tests run.
  ls_call "$port" dynamodb DynamoDB_20120810.ListTables application/x-amz-json-1.0 & local w1=$!
  ls_call "$port" kinesis Kinesis_20131202.ListStreams application/x-amz-json-1.1 & local w2=$!
  wait "$w1" && wait "$w2" || { tail -30 "$WORK/run/localstack-host/server.log" >&2; return 1; }
  export TESSERA_ENDPOINT="http://127.0.0.1:$port"
}

# ls_call PORT SERVICE TARGET CONTENT_TYPE — one JSON-protocol call, until it answers 200.
# LocalStack reads the account and region from the Authorization header; it checks no signature.
ls_call() {
  local port="$1" service="$2" target="$3" type="$4"
  for _ in $(seq 1 60); do
    if curl -sf -o /dev/null --max-time 60 -X POST "http://127.0.0.1:$port/" \
        -H "X-Amz-Target: $target" -H "Content-Type: $type" \
        -H "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/$service/aws4_request, SignedHeaders=host, Signature=0" \
        -d '{}'; then return 0; fi
    sleep 0.5
  done
  log "localstack-host: $service did not answer $target"; return 1
}

# Its shutdown can hang on the Java child: the grace period, then SIGKILL by PID (lib.sh).
target_stop() { stop_target localstack-host 10; }
