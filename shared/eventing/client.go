package eventing

import (
	"context"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// NewEmulatorClient returns a Pub/Sub client on the emulator at host
// ("127.0.0.1:port") without reading or changing PUBSUB_EMULATOR_HOST, so
// one process can talk to an emulator it started itself.
func NewEmulatorClient(ctx context.Context, project, host string) (*pubsub.Client, error) {
	return pubsub.NewClient(ctx, project,
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithTelemetryDisabled(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
}
