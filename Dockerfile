# The action image: the statically linked deploy-tcb binary and nothing else.
#
# Build it from a context that holds only the binary; scripts/build-image does that:
#   scripts/build-image localhost/deploy-tcb:dev
# which amounts to
#   cp "$(scripts/build-static | tail -n1)" <dir>/deploy-tcb
#   buildah bud --isolation chroot -f Dockerfile -t localhost/deploy-tcb:dev <dir>
#
# There is no USER line on purpose: the runner starts Docker actions without --user and mounts
# the workspace and file-command directories owned by its own user, so the action must run as
# root to write GITHUB_OUTPUT and GITHUB_STEP_SUMMARY. TLS roots are compiled into the binary.
FROM scratch

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="deploy-tcb" \
      org.opencontainers.image.description="GitHub Actions for Tencent CloudBase Run: build, scan, deploy, canary, roll back, release" \
      org.opencontainers.image.source="https://github.com/superinsight/deploy-tcb" \
      org.opencontainers.image.url="https://github.com/superinsight/deploy-tcb" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="superinsight" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

COPY deploy-tcb /deploy-tcb

# An empty image has no /tmp; WORKDIR creates it for tools and crates that expect one.
WORKDIR /tmp
ENV TMPDIR=/tmp
WORKDIR /github/workspace

ENTRYPOINT ["/deploy-tcb"]
