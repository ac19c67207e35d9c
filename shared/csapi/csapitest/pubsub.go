package csapitest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// PubSubPublisher is an EventPublisher on a Pub/Sub client, e.g. one on the
// Pub/Sub emulator (eventing.NewEmulatorClient): the simulator's support
// events then reach real topics, as the service's do. Topics are full
// names (projects/P/topics/T) and may be in any project the client reaches.
type PubSubPublisher struct {
	client *pubsub.Client

	mu      sync.Mutex
	pubs    map[string]*pubsub.Publisher
	stopped bool
}

var _ EventPublisher = (*PubSubPublisher)(nil)

// maxTopicPublishers bounds the per-topic publishers kept open; past it
// they are all stopped and opened again as needed.
const maxTopicPublishers = 64

// NewPubSubPublisher publishes through c. Call Stop when done (it does not
// close c).
func NewPubSubPublisher(c *pubsub.Client) *PubSubPublisher {
	return &PubSubPublisher{client: c, pubs: map[string]*pubsub.Publisher{}}
}

// PublishEvent publishes msg on topic and waits until Pub/Sub accepts it.
// A missing topic gives an error wrapping ErrTopicNotFound, a refused one
// ErrPublishDenied.
func (p *PubSubPublisher) PublishEvent(ctx context.Context, topic string, msg EventMessage) error {
	pub, err := p.publisher(topic)
	if err != nil {
		return err
	}
	_, err = pub.Publish(ctx, &pubsub.Message{Data: msg.Data, Attributes: msg.Attributes}).Get(ctx)
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.NotFound:
			return fmt.Errorf("publishing to %s: %w (%v)", topic, ErrTopicNotFound, err)
		case codes.PermissionDenied:
			return fmt.Errorf("publishing to %s: %w (%v)", topic, ErrPublishDenied, err)
		}
	}
	return fmt.Errorf("publishing to %s: %w", topic, err)
}

func (p *PubSubPublisher) publisher(topic string) (*pubsub.Publisher, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil, errors.New("the support events publisher is stopped")
	}
	if pub, ok := p.pubs[topic]; ok {
		return pub, nil
	}
	if len(p.pubs) >= maxTopicPublishers {
		for t, pub := range p.pubs {
			pub.Stop()
			delete(p.pubs, t)
		}
	}
	pub := p.client.Publisher(topic)
	p.pubs[topic] = pub
	return pub, nil
}

// Stop stops the per-topic publishers; later publishes fail.
func (p *PubSubPublisher) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for t, pub := range p.pubs {
		pub.Stop()
		delete(p.pubs, t)
	}
}
