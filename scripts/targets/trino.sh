# shellcheck shell=bash
# Target `trino`: Trino 476 — Athena's engine — for executing the generated point-in-time SQL,
# not only parsing it. One coordinator node with the memory connector (catalog `memory`);
# the tests load offline rows and labels into it with CREATE TABLE AS / INSERT over its HTTP
# protocol. Trino binds every interface (its HTTP server has no loopback-only default), so
# run.sh runs it — and the tests — in a private network namespace. The AWS services stay
# embedded in the test process.
#
# Install: the server tarball (io.trino:trino-server:476, ~780 MB) through Maven into Maven's
# local repository ($TESSERA_MAVEN_REPO, default ~/.m2/repository: shared by every clone on
# the machine, so CI's fresh clone does not download it again), unpacked into
# .work/trino/476 with only the plugins the tests use (memory). Needs Java 24+ (Trino 476);
# the first JDK of 24 or newer under /usr/lib/jvm is used, or $TRINO_JAVA.
# shellcheck disable=SC2034 # read by run.sh
TARGET_NETNS=1
TARGET_TEST_NAME=trino
TRINO_VERSION="${TRINO_VERSION:-476}"
TRINO_DIR="$WORK/trino/$TRINO_VERSION"
TRINO_PLUGINS=(memory)

# A java binary of major version 24 or newer.
trino_java() {
  local candidate major
  for candidate in ${TRINO_JAVA:-} /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
    [[ -x "$candidate" ]] || continue
    major="$("$candidate" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
    if [[ "$major" =~ ^[0-9]+$ ]] && (( major >= 24 )); then echo "$candidate"; return 0; fi
  done
  return 1
}

target_install() {
  trino_java >/dev/null || die "Trino $TRINO_VERSION needs Java 24+; none under /usr/lib/jvm (set TRINO_JAVA)"
  [[ -f "$TRINO_DIR/.complete" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (Debian package: maven)"
  local repo="${TESSERA_MAVEN_REPO:-$HOME/.m2/repository}"
  local tarball="$repo/io/trino/trino-server/$TRINO_VERSION/trino-server-$TRINO_VERSION.tar.gz"
  if [[ ! -f "$tarball" ]]; then
    log "trino: downloading io.trino:trino-server:$TRINO_VERSION (~780 MB, once per machine) into $repo"
    mkdir -p "$WORK/trino"
    mvn -B -q -Dmaven.repo.local="$repo" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
      -Dartifact="io.trino:trino-server:$TRINO_VERSION:tar.gz" -Dtransitive=false >"$WORK/trino/mvn.log" 2>&1 \
      || { tail -20 "$WORK/trino/mvn.log" >&2; die "maven fetch of trino-server $TRINO_VERSION failed"; }
  fi
  rm -rf "$TRINO_DIR"; mkdir -p "$TRINO_DIR"
  local wanted=("trino-server-$TRINO_VERSION/lib" "trino-server-$TRINO_VERSION/bin")
  for p in "${TRINO_PLUGINS[@]}"; do wanted+=("trino-server-$TRINO_VERSION/plugin/$p"); done
  tar -xzf "$tarball" -C "$TRINO_DIR" --strip-components=1 "${wanted[@]}"
  touch "$TRINO_DIR/.complete"
}

target_start() {
  local port java etc rundir="$WORK/run/trino"
  port="$(free_port)"
  java="$(trino_java)"
  etc="$rundir/etc"
  mkdir -p "$etc/catalog" "$rundir/data"
  cat >"$etc/config.properties" <<EOF
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$port
discovery.uri=http://127.0.0.1:$port
catalog.config-dir=$etc/catalog
plugin.dir=$TRINO_DIR/plugin
query.max-memory=600MB
query.max-memory-per-node=600MB
task.concurrency=2
EOF
  printf 'connector.name=memory\nmemory.max-data-per-node=256MB\n' >"$etc/catalog/memory.properties"
  # The JVM options of Trino's own jvm.config that matter on a small node.
  start_bg trino env --chdir="$rundir" "$java" -server -Xmx1G -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
    -XX:-OmitStackTraceInFastThrow -XX:ReservedCodeCacheSize=256M -XX:+EnableDynamicAgentLoading \
    -Djdk.attach.allowAttachSelf=true -Dfile.encoding=UTF-8 \
    -Dnode.environment=tessera -Dnode.id=tessera-trino -Dnode.data-dir="$rundir/data" \
    -Dconfig="$etc/config.properties" -Dlog.levels-file=/dev/null \
    -cp "$TRINO_DIR/lib/*" io.trino.server.TrinoServer
  trino_ready "http://127.0.0.1:$port" 120 "$BG_PID" || { tail -30 "$rundir/server.log" >&2; return 1; }
  export TESSERA_TRINO_ENDPOINT="http://127.0.0.1:$port"
}

# Trino answers /v1/info while it is still loading plugins: ready when it says "starting":false.
trino_ready() {
  local url="$1" timeout="$2" pid="$3" deadline
  wait_http "$url/v1/info" "$timeout" "$pid" 2xx || return 1
  deadline=$(( $(date +%s) + timeout ))
  while (( $(date +%s) < deadline )); do
    kill -0 "$pid" 2>/dev/null || return 1
    curl -s --max-time 2 "$url/v1/info" | grep -q '"starting":false' && return 0
    sleep 0.2
  done
  return 1
}

target_stop() { stop_target trino 15; }
