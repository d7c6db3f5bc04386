"""The admin HTTP API as the integration suites read it: JSON and /metrics over urllib."""
import json
import urllib.error
import urllib.request


def http(proxy, method, path, token=None, body=None):
    """(status, parsed JSON or text, headers) through urllib."""
    url = f"http://{proxy.admin_endpoint}{path}"
    req = urllib.request.Request(url, method=method, data=body)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw, headers = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, headers = e.code, e.read(), e.headers
    text = raw.decode()
    if text and headers.get("Content-Type", "").startswith("application/json"):
        return status, json.loads(text), headers
    return status, text, headers


def get(proxy, path, **kw):
    status, body, _ = http(proxy, "GET", path, **kw)
    assert status == 200, f"GET {path}: {status} {body}"
    return body


def post(proxy, path, **kw):
    return http(proxy, "POST", path, body=b"", **kw)


def client_by_app(proxy, app):
    clients = [c for c in get(proxy, "/api/v1/clients")["clients"] if c["application_name"] == app]
    assert len(clients) <= 1, clients
    return clients[0] if clients else None


def pool_of(proxy, database):
    pools = [p for p in get(proxy, "/api/v1/pools")["pools"] if p["database"] == database]
    assert len(pools) == 1, pools
    return pools[0]


def reason_stats(proxy, reason):
    reasons = {r["reason"]: r for r in get(proxy, "/api/v1/pinning")["reasons"]}
    return reasons[reason]


def metric_value(text, name, labels=""):
    needle = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(needle):
            return float(line[len(needle):])
    raise AssertionError(f"{needle!r} not in /metrics")


def metric(proxy, name):
    """One unlabelled counter or gauge from /metrics."""
    return metric_value(get(proxy, "/metrics"), name)
