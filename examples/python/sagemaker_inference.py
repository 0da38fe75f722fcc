"""SageMaker inference script that scores card authorisations with features from Tessera.

The handler functions follow the SageMaker inference toolkit's contract (``model_fn``,
``input_fn``, ``predict_fn``, ``output_fn``), so the file can be the ``entry_point`` of a
SageMaker model. Each request makes ONE call to the Tessera serving API, signed with SigV4
(botocore's ``SigV4Auth``, service ``execute-api``) from the endpoint's execution role, which
must be allowed to read the feature service (``allowedPrincipals``) and to ``execute-api:Invoke``
the API (``Serving.grantInvoke`` in the CDK stack).

Configuration, read once in ``model_fn``:
  TESSERA_URL        the API's base URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod
  AWS_REGION         the API's region (SageMaker sets it)
  TESSERA_TIMEOUT_S  per-call timeout in seconds (default 2)

Request body (``application/json``)::

  {"instances": [{"user_id": "u0001", "merchant_id": "m0001", "amount": 250,
                  "currency": "USD", "lat": 48.85, "lon": 2.35}]}

Response: ``{"model": ..., "predictions": [{"score": 0.07, "features": {...}, "missing": [...]}]}``.

The model is a toy logistic regression (``fraud-model.json`` in the model directory; the
TypeScript example loads the same file), enough to show where the features go.

Run it outside SageMaker against an API (or local mode, ``npm start``)::

  TESSERA_URL=http://127.0.0.1:4000 python3 examples/python/sagemaker_inference.py \\
      '{"instances": [{"user_id": "u0001", "merchant_id": "m0001", "amount": 250, "currency": "USD", "lat": 48.85, "lon": 2.35}]}'
"""

import json
import math
import os
import sys

import botocore.session
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

MAX_ENTITIES = 100  # the API's limit of entity rows per request
JSON = "application/json"


class TesseraError(Exception):
    """An error answer of the serving API, with its stable code (e.g. AccessDeniedError)."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class TesseraFeatures:
    """A minimal client of POST /v1/features: SigV4-signed, one keep-alive HTTP session."""

    def __init__(self, url, region, timeout_s=2.0, session=None):
        self.url = url.rstrip("/") + "/v1/features"
        self.region = region
        self.timeout_s = timeout_s
        self.http = requests.Session()
        # The default credential chain: env vars, profile, container or instance role.
        self.credentials = (session or botocore.session.get_session()).get_credentials()
        if self.credentials is None:
            raise RuntimeError("no AWS credentials found to sign requests to the Tessera API")

    def get(self, service, entities):
        body = json.dumps({"service": service, "entities": entities})
        request = AWSRequest(method="POST", url=self.url, data=body, headers={"content-type": JSON})
        # Frozen per call: role credentials rotate, and a refresh must not change them mid-signature.
        SigV4Auth(self.credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        response = self.http.post(self.url, data=body, headers=dict(request.headers), timeout=self.timeout_s)
        answer = response.json()
        if response.status_code != 200:
            error = answer.get("error", {})
            raise TesseraError(response.status_code, error.get("code", "HttpError"), error.get("message", response.reason))
        return answer


def model_fn(model_dir):
    """Loads the model and builds the Tessera client, once per worker."""
    with open(os.path.join(model_dir, "fraud-model.json"), encoding="utf-8") as f:
        model = json.load(f)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    features = TesseraFeatures(os.environ["TESSERA_URL"], region, float(os.environ.get("TESSERA_TIMEOUT_S", "2")))
    return {"model": model, "features": features}


def input_fn(request_body, request_content_type=JSON):
    if request_content_type != JSON:
        raise ValueError(f"unsupported content type {request_content_type}; send {JSON}")
    data = json.loads(request_body)
    instances = data.get("instances") if isinstance(data, dict) else None
    if not isinstance(instances, list) or not instances:
        raise ValueError('the body needs "instances": a non-empty list of authorisations')
    return instances


def predict_fn(instances, loaded):
    model, client = loaded["model"], loaded["features"]
    predictions = []
    for start in range(0, len(instances), MAX_ENTITIES):
        chunk = instances[start : start + MAX_ENTITIES]
        answer = client.get(model["service"], chunk)
        predictions.extend(score(model, row) for row in answer["results"])
    return {"model": model["name"], "predictions": predictions}


def score(model, row):
    """The toy logistic model over one result row; inputs that are not present count as 0."""
    logit = model["bias"]
    features, missing = {}, []
    for column, weight in model["weights"].items():
        value = row["values"].get(column)
        features[column] = value
        if row["status"].get(column) != "present":
            missing.append(column)
        logit += weight * float(value or 0)
    return {"score": round(1 / (1 + math.exp(-logit)), 6), "features": features, "missing": missing}


def output_fn(prediction, accept=JSON):
    if accept not in (JSON, "*/*"):
        raise ValueError(f"unsupported accept type {accept}; ask for {JSON}")
    return json.dumps(prediction), JSON


def main(argv):
    """Runs the SageMaker contract once, outside SageMaker: body from argv[1] or stdin."""
    body = argv[1] if len(argv) > 1 else sys.stdin.read()
    model_dir = os.environ.get("SM_MODEL_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model")
    try:
        output, _ = output_fn(predict_fn(input_fn(body), model_fn(model_dir)))
    except TesseraError as error:
        print(json.dumps({"error": {"status": error.status, "code": error.code, "message": str(error)}}), file=sys.stderr)
        return 2
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
