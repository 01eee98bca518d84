"""`rtvoice serve` on Ray Serve, for real: a local Ray head on 127.0.0.1, two replicas, three concurrent
live streams, one replica killed mid-stream.

The streams on the surviving replica must finish untouched; the stream on the killed one sees its socket
close, reconnects (rtvoice.server.client.send_resuming), lands on a live replica and resends from the end
of its last final: the words lost are measured against the transcript (only the segment in flight may go).
Ray is a registry package (ray[serve], about 390 MB installed); starting the head takes 10-50 s here.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

ray = pytest.importorskip("ray", reason="ray[serve] is a test dependency (requirements/dev.txt)")

from asr_support import wer  # noqa: E402
from rtvoice.server.client import send_resuming  # noqa: E402
from server_support import finals_text, get_json, joined  # noqa: E402
from speech_data import load_speech, speech_manifest  # noqa: E402

TRANSCRIPTS = {r["id"]: r["transcript"] for r in speech_manifest()}
STREAMS = [["spk1_snt1", "spk1_snt2", "spk1_snt3"], ["spk1_snt4", "spk1_snt5", "spk1_snt6"],
           ["sense_and_sensibility_01_austen_64kb-0880", "sense_and_sensibility_01_austen_64kb-0930",
            "spk1_snt1"]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def serve_url():
    from ray import serve

    from rtvoice.server import ray_app

    port = free_port()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(ray_app.deployment(replicas=2, max_streams=3, num_cpus=0.5, threads=1).bind(),
                  name="rtvoice", route_prefix="/")
        yield f"ws://127.0.0.1:{port}/v1/stream"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_a_killed_replica_ends_its_streams_and_the_client_resumes_on_another(serve_url):
    from rtvoice.server.ray_app import replica_actor

    http = serve_url.replace("ws://", "http://").replace("/v1/stream", "")
    assert get_json(f"{http}/healthz")["status"] == "ok"
    audios = [joined([load_speech(u) for u in ids]) for ids in STREAMS]
    results: dict[int, dict] = {}
    errors: list[BaseException] = []

    first_server: dict[int, str] = {}

    def run(k):
        try:
            results[k] = send_resuming(serve_url, audios[k], realtime=True, max_reconnects=3,
                                       on_ready=lambda ready: first_server.setdefault(k, ready["server"]))
        except BaseException as error:  # reported below, with the others' results
            errors.append(error)

    threads = []
    for k in range(len(STREAMS)):
        threads.append(threading.Thread(target=run, args=(k,)))
        threads[-1].start()
        time.sleep(0.3)
    deadline = time.monotonic() + 60
    while len(first_server) < len(STREAMS) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(set(first_server.values())) == 2, first_server  # the streams were spread over both replicas
    victim = first_server[0]
    time.sleep(3.0)  # stream 0 is in its second utterance
    ray.kill(replica_actor(victim), no_restart=True)
    for t in threads:
        t.join(180)
    assert not errors, errors
    print()
    for k, result in results.items():
        text = finals_text(result["events"])
        reference = " ".join(TRANSCRIPTS[u] for u in STREAMS[k])
        lost = wer([reference], [text])
        print(f"stream {k}: servers {result['servers']}, reconnects {result['reconnects']}, losses "
              f"{result['losses']}, WER {lost:.3f}: {text}")
        assert result["events"][-1]["type"] == "stats"
        if result["servers"][0] == victim:
            assert result["reconnects"] >= 1 and result["servers"][-1] != victim
            assert wer([reference], [text]) <= 0.4  # at most the segment in flight is gone
        else:
            assert result["reconnects"] == 0  # the other replica's streams never noticed
            assert lost <= 0.25
