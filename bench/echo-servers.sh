# The echo servers the benchmark scripts know (sourced, not run): `server_cmd NAME`
# prints the command line of server NAME, without its --addr. BIN is the directory of
# the release binaries. Each server runs on one core: ringio --workers 1 on io_uring,
# ringio-epoll the same server on its epoll backend, ringio-pooled and ringio-owned its
# other receive paths (ringio-epoll-pooled: the pooled one on epoll, which receives at the
# socket's edge where the default stream receives when its task polls: the backend's rule
# 10); raw, monoio, tokio-ct and tokio-mt are bench/peers' servers.

server_cmd() {
    case "$1" in
        ringio) echo "$BIN/examples/echo_server --backend io_uring --workers 1" ;;
        ringio-epoll) echo "$BIN/examples/echo_server --backend epoll --workers 1" ;;
        ringio-epoll-pooled) echo "$BIN/examples/echo_server --backend epoll --workers 1 --recv pooled" ;;
        ringio-pooled) echo "$BIN/examples/echo_server --backend io_uring --workers 1 --recv pooled" ;;
        ringio-owned) echo "$BIN/examples/echo_server --backend io_uring --workers 1 --recv owned" ;;
        raw) echo "$BIN/peer-raw" ;;
        monoio) echo "$BIN/peer-monoio --workers 1" ;;
        tokio-ct) echo "$BIN/peer-tokio-ct" ;;
        tokio-mt) echo "$BIN/peer-tokio-mt --workers 1" ;;
        *) echo "unknown server $1" >&2; return 1 ;;
    esac
}
