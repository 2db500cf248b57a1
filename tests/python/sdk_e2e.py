#!/usr/bin/env python3
"""Drives a running `deploy-tcb emulator` with the official Tencent Cloud Python SDK
(tencentcloud-sdk-python): a full deploy, a gray split, promote, rollback, keyless sts, and the
AuthFailure answers to a wrong key, an unknown SecretId and a tampered body.

Usage: sdk_e2e.py --endpoint 127.0.0.1:PORT --secret-id ID --secret-key KEY --env ENV
Exit 0 when every check passes; prints one line per check.
"""

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.request

from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.tcbr.v20220217 import models, tcbr_client

SERVICE = "hello"
TIMEOUT_S = 30


def profile(endpoint):
    return ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint))


def client(args, secret_id=None, secret_key=None, token=None):
    cred = credential.Credential(secret_id or args.secret_id, secret_key or args.secret_key, token)
    return tcbr_client.TcbrClient(cred, "ap-shanghai", profile(args.endpoint))


def call(tcbr, action, params):
    request = getattr(models, action + "Request")()
    request.from_json_string(json.dumps(params))
    return json.loads(getattr(tcbr, action)(request).to_json_string())


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def expect_error(name, code, fn):
    try:
        fn()
    except TencentCloudSDKException as error:
        check(name, error.get_code() == code, f"got {error.get_code()}: {error.get_message()}")
        return
    check(name, False, f"expected {code}, the call succeeded")


def wait(name, fn):
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    check(name, False, "timed out")


def latest_task(tcbr, env):
    return call(tcbr, "DescribeServerManageTask", {"EnvId": env, "ServerName": SERVICE, "TaskId": 0})["Task"]


def finished_task(tcbr, env, name):
    task = wait(name, lambda: (lambda t: t if t["Status"] not in ("running", "") else None)(latest_task(tcbr, env)))
    check(name, task["Status"] == "finished", f"task {task}")
    return task


def online(tcbr, env):
    detail = call(tcbr, "DescribeCloudRunServerDetail", {"EnvId": env, "ServerName": SERVICE})
    return {v["VersionName"]: v["FlowRatio"] for v in detail["OnlineVersionInfos"]}, detail


def gateway_split(url, requests):
    """Counts which version answered each request (the synthetic app's X-Tcb-Version header);
    an errors-20 version answers some with 500, which still counts."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    counts = {}
    for _ in range(requests):
        try:
            with opener.open(url + "/") as response:
                version = response.headers["X-Tcb-Version"]
        except urllib.error.HTTPError as error:
            version = error.headers["X-Tcb-Version"]
        counts[version] = counts.get(version, 0) + 1
    return counts


def deploy_gray_promote_rollback(args, tcbr):
    env = args.env
    base = call(tcbr, "DescribeEnvBaseInfo", {"EnvId": env})
    check("env exists and is normal", base["IsExist"] and base["EnvBaseInfo"]["Status"] == "normal", base)

    expect_error("a missing service is ResourceNotFound.ServerNotFound", "ResourceNotFound.ServerNotFound",
                 lambda: call(tcbr, "DescribeCloudRunServerDetail", {"EnvId": env, "ServerName": SERVICE}))

    created = call(tcbr, "CreateCloudRunServer", {
        "EnvId": env, "ServerName": SERVICE,
        "DeployInfo": {"DeployType": "image", "ImageUrl": "ccr.ccs.tencentyun.com/demo/synthetic:healthy"},
        "Items": [{"Key": "Port", "IntValue": 8080}, {"Key": "MinNum", "IntValue": 1}],
    })
    check("create returns a task id", created["TaskId"] > 0, created)
    finished_task(tcbr, env, "first release finishes")
    versions, detail = online(tcbr, env)
    check("version 001 serves 100%", versions == {SERVICE + "-001": "100"}, versions)
    check("config items applied", detail["ServerConfig"]["Port"] == 8080, detail["ServerConfig"])
    url = detail["BaseInfo"]["DefaultDomainName"]

    call(tcbr, "UpdateCloudRunServer", {
        "EnvId": env, "ServerName": SERVICE,
        "DeployInfo": {"DeployType": "image", "ImageUrl": "ccr.ccs.tencentyun.com/demo/synthetic:errors-20",
                       "ReleaseType": "GRAY", "DeployRemark": "canary 灰度"},
    })
    expect_error("a second release while one runs is ResourceInUse", "ResourceInUse",
                 lambda: call(tcbr, "UpdateCloudRunServer", {
                     "EnvId": env, "ServerName": SERVICE,
                     "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:healthy"}}))

    def canary_ready():
        order = call(tcbr, "DescribeReleaseOrder", {"EnvId": env, "ServerName": SERVICE})
        info = order.get("ReleaseOrderInfo") or {}
        return info if info.get("ReleaseStatus") == "open" and not info.get("IsReleasing") else None

    order = wait("gray version becomes ready", canary_ready)
    current, release = order["CurrentVersion"]["VersionName"], order["ReleaseVersion"]["VersionName"]
    check("release order names both versions", (current, release) == (SERVICE + "-001", SERVICE + "-002"), order)
    task = latest_task(tcbr, env)
    check("gray task stays running", task["Status"] == "running" and task["ReleaseType"] == "GRAY", task)

    call(tcbr, "ReleaseGray", {
        "EnvId": env, "ServerName": SERVICE, "GrayType": "gray", "TrafficType": "FLOW", "GrayFlowRatio": 30,
        "VersionFlowItems": [
            {"VersionName": current, "FlowRatio": 70, "IsDefaultPriority": True, "Priority": 1},
            {"VersionName": release, "FlowRatio": 30, "IsDefaultPriority": False, "Priority": 2},
        ],
    })
    versions, _ = online(tcbr, env)
    check("split is 70/30", versions == {current: "70", release: "30"}, versions)
    counts = gateway_split(url, 200)
    check("gateway follows the split", 30 <= counts.get(release, 0) <= 90, counts)

    call(tcbr, "OperateServerManage", {"EnvId": env, "ServerName": SERVICE, "TaskId": task["Id"], "OperateType": "done"})
    versions, _ = online(tcbr, env)
    check("promote: the release version serves 100%", versions == {release: "100"}, versions)
    check("the gray task is finished", latest_task(tcbr, env)["Status"] == "finished")

    rollback = call(tcbr, "SubmitServerRollback", {
        "EnvId": env, "ServerName": SERVICE, "CurrentVersionName": release, "RollbackVersionName": current,
        "OperatorRemark": "errors too high"})
    check("rollback returns a task id", rollback["TaskId"] > task["Id"], rollback)
    finished_task(tcbr, env, "rollback finishes")
    versions, _ = online(tcbr, env)
    check("rollback: version 001 serves 100% again", versions == {current: "100"}, versions)

    records = call(tcbr, "DescribeCloudRunDeployRecord", {"EnvId": env, "ServerName": SERVICE})["DeployRecords"]
    check("three deploy records", len(records) == 3, records)
    logs = call(tcbr, "DescribeCloudRunProcessLog", {"EnvId": env, "RunId": records[-1]["RunId"]})["Logs"]
    check("process logs tell the steps", any("pulling image" in line for line in logs), logs)
    detail = call(tcbr, "DescribeVersionDetail", {"EnvId": env, "ServerName": SERVICE, "VersionName": release})
    check("version detail", detail["Name"] == release and detail["Status"] == "normal", detail)


def auth_failures(args):
    env = args.env
    params = {"EnvId": env}
    wrong_key = client(args, secret_key=args.secret_key + "-wrong")
    expect_error("a wrong key is AuthFailure.SignatureFailure", "AuthFailure.SignatureFailure",
                 lambda: call(wrong_key, "DescribeEnvBaseInfo", params))
    stranger = client(args, secret_id="AKIDNOBODYKNOWS")
    expect_error("an unknown SecretId is AuthFailure.SecretIdNotFound", "AuthFailure.SecretIdNotFound",
                 lambda: call(stranger, "DescribeEnvBaseInfo", params))
    tampered = client(args)
    send = tampered.request.send_request

    def change_body_after_signing(req):
        req.data = req.data.replace(env, env + "x")
        return send(req)

    tampered.request.send_request = change_body_after_signing
    expect_error("a tampered body is AuthFailure.SignatureFailure", "AuthFailure.SignatureFailure",
                 lambda: call(tampered, "DescribeEnvBaseInfo", params))


def keyless(args):
    # The request OIDCRoleArnCredential.refresh() sends (a CommonClient without credentials,
    # SkipSign), with our http profile: that class hard-codes https.
    sts = CommonClient(credential=None, region="ap-shanghai", version="2018-08-13", service="sts",
                       profile=profile(args.endpoint))
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "repo:o/r:ref:refs/heads/main"}).encode()).rstrip(b"=")
    jwt = "eyJhbGciOiJSUzI1NiJ9." + claims.decode() + ".c2lnbmF0dXJl"
    answer = sts.call_json("AssumeRoleWithWebIdentity", {
        "ProviderId": "github", "WebIdentityToken": jwt,
        "RoleArn": "qcs::cam::uin/100000000001:roleName/deploy", "RoleSessionName": "ci"},
        options={"SkipSign": True})["Response"]
    creds = answer["Credentials"]
    check("sts issues temporary credentials", creds["TmpSecretId"].startswith("AKID") and answer["ExpiredTime"] > 0)
    temporary = client(args, creds["TmpSecretId"], creds["TmpSecretKey"], creds["Token"])
    base = call(temporary, "DescribeEnvBaseInfo", {"EnvId": args.env})
    check("temporary credentials sign tcbr calls", base["IsExist"])
    no_token = client(args, creds["TmpSecretId"], creds["TmpSecretKey"])
    expect_error("temporary credentials without the token are AuthFailure.TokenFailure", "AuthFailure.TokenFailure",
                 lambda: call(no_token, "DescribeEnvBaseInfo", {"EnvId": args.env}))


def main():
    global SERVICE
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--secret-id", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--service", default=SERVICE)
    args = parser.parse_args()
    SERVICE = args.service
    tcbr = client(args)
    deploy_gray_promote_rollback(args, tcbr)
    auth_failures(args)
    keyless(args)
    print("sdk e2e: all checks passed")


if __name__ == "__main__":
    main()
