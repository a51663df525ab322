# onramp's image for those who build with Docker; `make image` builds the
# same image without a container engine (cmd/onramp-image): a static binary
# from scratch, run as UID 65532, CA roots inside the binary.
#
#   docker build --build-arg VERSION=$(git describe --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(git log -1 --format=%cI) -t ghcr.io/onramp/onramp:dev .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Set by BuildKit for --platform; amd64 without it.
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH:-amd64} go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" -o /out/onramp ./cmd/onramp
# The folders and user files the image holds besides the binary
# (cmd/onramp-image writes the same in its one layer).
RUN mkdir -p /rootfs/etc /rootfs/tmp /rootfs/home/nonroot /rootfs/var/lib/onramp \
 && cp cmd/onramp-image/rootfs/etc/passwd cmd/onramp-image/rootfs/etc/group /rootfs/etc/ \
 && chmod 1777 /rootfs/tmp \
 && chmod 700 /rootfs/home/nonroot /rootfs/var/lib/onramp

FROM scratch
ARG VERSION=dev
ARG REVISION=
ARG CREATED=1970-01-01T00:00:00Z
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /rootfs/home/nonroot/ /home/nonroot/
COPY --from=build --chown=65532:65532 /rootfs/var/lib/onramp/ /var/lib/onramp/
COPY --from=build /out/onramp /onramp
USER 65532:65532
WORKDIR /var/lib/onramp
ENV ONRAMP_ADDR=0.0.0.0:8080 ONRAMP_DATA_DIR=/var/lib/onramp HOME=/home/nonroot
EXPOSE 8080
LABEL org.opencontainers.image.title="onramp" \
      org.opencontainers.image.description="Takes a software project from create to deployed by Flux in every environment" \
      org.opencontainers.image.source="https://github.com/onramp/onramp" \
      org.opencontainers.image.url="https://github.com/onramp/onramp" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
ENTRYPOINT ["/onramp"]
CMD ["serve"]
