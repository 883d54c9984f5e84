import hmac, hashlib, sys, time, json, subprocess
secret, body = sys.argv[1], sys.argv[2]
ts = str(int(time.time() * 1000)); attempt = "att-1"
sig = "sha256=" + hmac.new(secret.encode(), f"{ts}.{attempt}.".encode() + body.encode(), hashlib.sha256).hexdigest()
print(json.dumps(["-H", "x-agnt5-signature-version: workerless-hmac-sha256.v1", "-H", f"x-agnt5-signature: {sig}", "-H", f"x-agnt5-timestamp: {ts}", "-H", f"x-agnt5-attempt-id: {attempt}"]))
