# Builds genesys-bridge and genesys-sim into one small image.
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t genesys-bridge .
#   docker run --rm -e GENESYS_REGION=... genesys-bridge
# (genesys-bridge -version prints VERSION and COMMIT: the build context has
# no .git to read them from.)
FROM golang:1.26-bookworm AS build
ARG VERSION=""
ARG COMMIT=""
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/genesys-bridge ./cmd/genesys-bridge \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/genesys-sim ./cmd/genesys-sim

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/genesys-bridge /out/genesys-sim /usr/local/bin/
USER nonroot:nonroot
# The embedded NATS store (used only when NATS_URL is empty) goes under /data.
ENV NATS_EMBEDDED_STORE_DIR=/data/nats
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/genesys-bridge"]
