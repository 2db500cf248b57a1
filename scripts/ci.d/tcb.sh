# Tools for the tcb tests: the official Tencent Cloud SDK signer is the independent reference
# for TC3 signatures over raw UTF-8 bodies (tests/tcb.rs).
if ! python3 -c 'import tencentcloud.common.sign' 2>/dev/null; then
    python3 -m pip install --quiet 'tencentcloud-sdk-python-common==3.1.195'
fi
