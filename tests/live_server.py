"""Loopback tooling shared by the browser tests and scripts: Debian's chromium, a waitress thread."""
import threading

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def serve_in_thread(app):
    """Start waitress for `app` on a free loopback port; returns (base URL, stop function)."""
    from waitress import create_server, wasyncore

    server = create_server(app, host="127.0.0.1", port=0, threads=4, ident="yanxiu-live")
    stopping = threading.Event()

    def run():
        # waitress's own run() loops until every socket is closed; this loop checks for stop.
        while not stopping.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        for dispatcher in list(server._map.values()):
            try:
                dispatcher.close()
            except OSError:
                pass

    thread = threading.Thread(target=run, name="yanxiu-live-server", daemon=True)
    thread.start()

    def stop():
        stopping.set()
        thread.join(timeout=10)

    return f"http://127.0.0.1:{server.effective_port}", stop
