# shellcheck shell=bash
# maven_fetch GROUP:ARTIFACT:VERSION DIR — the artifact and its runtime dependencies (native
# libraries included) from Maven Central into DIR, through a generated pom, with the local
# Maven repository kept in the work folder. Idempotent: DIR/.complete marks a finished fetch.
maven_fetch() {
  local gav="$1" dir="$2" g a v
  IFS=: read -r g a v <<<"$gav"
  [[ -f "$dir/.complete" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (Debian package: maven)"
  rm -rf "$dir"; mkdir -p "$dir"
  cat >"$dir.pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tessera.targets</groupId>
  <artifactId>fetch-$a</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>
  </dependencies>
</project>
POM
  mvn -B -q -f "$dir.pom.xml" -Dmaven.repo.local="$WORK/m2" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DoutputDirectory="$dir" -DincludeScope=runtime >"$dir.mvn.log" 2>&1 \
    || { tail -30 "$dir.mvn.log" >&2; die "maven fetch of $gav failed (log: $dir.mvn.log)"; }
  rm -f "$dir.pom.xml"
  touch "$dir/.complete"
}
