"""Scale-out on Ray Serve: the server's ASGI app as the ingress of a Serve deployment with replicas.

Each replica is a whole rtvoice server (its own loaded model, its streams, its /metrics); Serve's proxy
spreads new WebSockets over the replicas (the one with fewer streams in flight). A replica that dies ends
its streams (the client sees the socket close); a client using
:func:`rtvoice.server.client.send_resuming` connects again, lands on a live replica and resends from the
end of its last final, so only the segment in flight is recognised again.

    rtvoice serve --ray auto --replicas 2                    # on a running cluster (ray start --head)
    serve run rtvoice.server.ray_app:app replicas=2 max_streams=4

The proxy listens on --host/--port (Serve's HTTP options); /healthz and /metrics answer for the replica
the request lands on.
"""

from __future__ import annotations

from pathlib import Path

DEPLOYMENT = "rtvoice"


def deployment(replicas: int = 2, max_streams: int = 4, batching: bool = True, num_cpus: float = 1.0,
               model_dir: str | None = None, device: str = "cpu", threads: int = 0, token: str | None = None,
               out_dir: str | None = None):
    """The Serve deployment (not yet bound): `replicas` rtvoice servers of `max_streams` streams each."""
    from ray import serve

    from rtvoice.server.app import ServerSettings

    ServerSettings(max_streams=max_streams, token=token)  # validated here, before any replica starts

    def build_app():  # runs in each replica
        from rtvoice.asr import WhisperConfig, WhisperRecognizer
        from rtvoice.server.app import CaptionServer

        name = serve.get_replica_context().replica_id.unique_id
        recognizer = WhisperRecognizer(WhisperConfig(model_dir=Path(model_dir) if model_dir else None,
                                                     device=device, threads=threads, decoder_threads=None))
        out = Path(out_dir) / name if out_dir else None
        settings = ServerSettings(max_streams=max_streams, token=token, out_dir=out, batching=batching, name=name)
        return CaptionServer(recognizer, settings).app()

    # Serve queues requests past max_ongoing_requests; let every stream (and a few probes) through, so a full
    # replica answers "busy" itself at once instead of leaving the client queued.
    return serve.deployment(serve.ingress(build_app)(), name=DEPLOYMENT, num_replicas=replicas,
                            max_ongoing_requests=max_streams + 4, ray_actor_options={"num_cpus": num_cpus})


def app(args: dict):
    """Application builder for ``serve run rtvoice.server.ray_app:app key=value ...`` (replicas,
    max_streams, batching, num_cpus, model_dir, device, threads, token, out_dir)."""
    kinds = {"replicas": int, "max_streams": int, "num_cpus": float, "threads": int,
             "batching": lambda v: str(v).lower() not in ("0", "false", "no", "off")}
    unknown = set(args) - set(kinds) - {"model_dir", "device", "token", "out_dir"}
    if unknown:
        raise ValueError(f"unknown argument(s) {', '.join(sorted(unknown))}")
    options = {k: kinds.get(k, str)(v) for k, v in args.items()}
    return deployment(**options).bind()


def replica_actor(replica_id: str):
    """The Ray actor of the replica named `replica_id` (the ``server`` field of a ready event)."""
    import ray

    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["name"].startswith("SERVE_REPLICA::") and actor["name"].endswith(f"#{replica_id}"):
            return ray.get_actor(actor["name"], namespace=actor["namespace"])
    raise LookupError(f"no Serve replica {replica_id!r}")


def run(address: str, host: str, port: int, app_name: str = DEPLOYMENT, **options) -> None:
    """Connect to the Ray cluster at `address`, start Serve's proxy on host:port and deploy (returns once
    the replicas are up)."""
    import ray
    from ray import serve

    ray.init(address=address, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    serve.run(deployment(**options).bind(), name=app_name, route_prefix="/")


__all__ = ["deployment", "app", "replica_actor", "run", "DEPLOYMENT"]
