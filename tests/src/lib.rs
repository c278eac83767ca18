//! The harness for cross-daemon system tests: start servers on free ports
//! in temp dirs and wait for them to serve.
