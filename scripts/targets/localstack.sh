# shellcheck shell=bash
# Target `localstack`: LocalStack in Docker, started by the test process itself through
# @testcontainers/localstack (test/support/target.ts), with the image from LOCALSTACK_IMAGE
# and the token from LOCALSTACK_AUTH_TOKEN. Nothing to install or start here. Without a
# Docker engine the suites skip every test with the printed reason (counted as skipped).
# shellcheck disable=SC2034 # read by run.sh
TARGET_NETNS=0
TARGET_TEST_NAME=localstack

target_install() { :; }
target_start() { :; }
target_stop() { :; }
