#!/usr/bin/env python3
"""Calls a running rein through the standard Triton OIP v2 HTTP client (tritonclient).

    pip install "tritonclient[http]"
    rein serve examples/phishing-warning/rein.toml --addr 127.0.0.1:8080 &
    python3 scripts/oip_client_check.py 127.0.0.1:8080

Checks liveness, readiness, model metadata, and inferences with the client's defaults
(binary tensor data, every output), with JSON tensors, and with a mix; and that the
client reads rein's errors (an unknown model, an unknown version, a wrong input) as the
protocol shapes them, `{"error": "<message>"}`, with their status.
"""
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

url = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8080"
model = sys.argv[2] if len(sys.argv) > 2 else "phishing"
client = httpclient.InferenceServerClient(url=url)
assert client.is_server_live(), "not live"
assert client.is_server_ready(), "not ready"
assert client.is_model_ready(model), "model not ready"
meta = client.get_model_metadata(model)
print("model", meta["name"], "versions", meta["versions"])

page = {
    "url_length": 142, "num_dots": 6, "num_hyphens": 4, "has_ip_host": 1, "uses_https": 0,
    "domain_age_days": 3, "num_subdomains": 4, "suspicious_words": 3, "tld_category": "new_gtld",
}
numpy_types = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32, "BOOL": np.bool_, "BYTES": np.object_}
def infer(binary_inputs, outputs):
    inputs = []
    for spec in meta["inputs"]:
        value = page[spec["name"]]
        array = np.array([[value]], dtype=numpy_types[spec["datatype"]])
        tensor = httpclient.InferInput(spec["name"], [1, 1], spec["datatype"])
        tensor.set_data_from_numpy(array, binary_data=binary_inputs)
        inputs.append(tensor)
    result = client.infer(model, inputs, outputs=outputs)
    label = result.as_numpy("label")
    probabilities = result.as_numpy("probabilities")
    print("label", label, "probabilities", probabilities)
    assert label.reshape(-1)[0] in (b"phishing", "phishing"), label
    assert probabilities.shape == (1, 2), probabilities.shape
    return probabilities


# the client's defaults: binary inputs, every output as binary
defaults = infer(True, None)
# JSON both ways
as_json = infer(False, [httpclient.InferRequestedOutput(o["name"], binary_data=False) for o in meta["outputs"]])
# JSON inputs, one output binary and one JSON
mixed = infer(False, [httpclient.InferRequestedOutput("label", binary_data=True),
                      httpclient.InferRequestedOutput("probabilities", binary_data=False)])
assert np.allclose(defaults, as_json, atol=1e-6) and np.allclose(mixed, as_json, atol=1e-6), (defaults, as_json, mixed)


def refused(call, status, part):
    """`call` raises the client's error with this status, and a message (a string) holding `part`."""
    try:
        call()
    except InferenceServerException as e:
        assert e.status() == str(status), (e.status(), e.message())
        assert isinstance(e.message(), str) and part in e.message(), e.message()
        print("refused", e.status(), e.message())
        return
    raise AssertionError(f"not refused: expected {status} and a message with {part!r}")


refused(lambda: client.get_model_metadata("nope"), 404, "no component is named `nope`")
refused(lambda: client.get_model_metadata(model, model_version="nine"), 404, "no version `nine`")
assert not client.is_model_ready(model, model_version="nine"), "an unknown version is not ready"
wrong = httpclient.InferInput("nope", [1, 1], "FP32")
wrong.set_data_from_numpy(np.array([[1.0]], dtype=np.float32), binary_data=False)
refused(lambda: client.infer(model, [wrong]), 400, "nope")
print("tritonclient: OK")
