"""An HTTP/2 client over cleartext TCP with prior knowledge (h2c, no upgrade), for the tests.

Envoy's listener uses `codec_type: AUTO`, which reads the HTTP/2 connection preface. Reads
`{"ops": [request, ...]}` on stdin; each request is sent on its own connection:

    {"addr": "127.0.0.1:10000",
     "headers": [[":method", "POST"], [":path", "/x"], ...],   # pseudo-headers first
     "data": ["abc", ""],                                      # DATA frames, in order (text)
     "trailers": [["x-checksum", "1"]],                        # or null: no trailers
     "gate": "/tmp/x/go"}                                      # optional, see below

END_STREAM goes on the trailers when there are any, else on the last DATA frame, else on the
HEADERS. With a `gate`, the HEADERS go first and the rest only once that file exists (the test
creates it when the event it waits for happened). Prints `{"results": [response, ...]}` with, per request, `status` (null when none came),
`headers` ([[name, value], ...]), `body_b64`, and `reset` (the stream or the connection ended
without a complete response).
"""

import base64
import json
import os
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events

TIMEOUT_SECONDS = 60


def send(op):
    host, port = op["addr"].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=TIMEOUT_SECONDS)
    try:
        return exchange(sock, op)
    finally:
        sock.close()


def exchange(sock, op):
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    headers = [tuple(h) for h in op["headers"]]
    data = [d.encode("utf-8") for d in op.get("data") or []]
    trailers = [tuple(t) for t in op.get("trailers") or []]
    conn.send_headers(stream, headers, end_stream=not data and not trailers)
    if op.get("gate"):
        sock.sendall(conn.data_to_send())
        wait_for_file(op["gate"])
    for i, chunk in enumerate(data):
        conn.send_data(stream, chunk, end_stream=(i == len(data) - 1 and not trailers))
    if trailers:
        conn.send_headers(stream, trailers, end_stream=True)
    sock.sendall(conn.data_to_send())
    return read_response(sock, conn, stream)


def wait_for_file(path):
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the gate {path} never opened")
        time.sleep(0.01)


def read_response(sock, conn, stream):
    result = {"status": None, "headers": [], "body_b64": "", "reset": False}
    body = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            result["reset"] = True
            break
        done = False
        for event in conn.receive_data(chunk):
            if getattr(event, "stream_id", stream) != stream:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                for name, value in event.headers:
                    if name == ":status":
                        result["status"] = int(value)
                    else:
                        result["headers"].append([name, value])
            elif isinstance(event, h2.events.DataReceived):
                body.extend(event.data)
                conn.acknowledge_received_data(event.flow_controlled_length, stream)
            elif isinstance(event, h2.events.StreamEnded):
                done = True
            elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                result["reset"] = True
                done = True
        sock.sendall(conn.data_to_send())
        if done:
            break
    result["body_b64"] = base64.b64encode(bytes(body)).decode("ascii")
    return result


def main():
    ops = json.load(sys.stdin)["ops"]
    json.dump({"results": [send(op) for op in ops]}, sys.stdout)


if __name__ == "__main__":
    main()
