// Package store is casebridge's state in Firestore (native mode): the case
// mappings and the pollers' shared state. It implements casesync.Store.
//
// Layout:
//   - caseMappings/{id}: one document per mapping (id chosen client-side).
//   - caseKeys/{side}-{key}: one document per case key, naming the mapping
//     that holds it. Uniqueness of a case is the uniqueness of this document
//     id; a key document is written in the same transaction as its mapping.
//     A Google case is keyed by its case number, which is the same whether
//     its name uses the project id or the project number; a CRM case id is
//     path-escaped so that any string makes a valid document id.
//   - state/global: the last-polled times and heartbeats of both pollers.
//   - deliveryFailures/{key}: the last failed attempt to handle a message
//     Pub/Sub will redeliver, keyed by eventing.FailureKey (function and
//     case, or function and "tick"), for the dead-letter tool. Firestore's
//     TTL policy deletes it by its expireAt field.
//
// Every read-modify-write runs in a transaction, which the client retries
// when Firestore aborts it for contention.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Collection and document names.
const (
	MappingsCollection = "caseMappings"
	KeysCollection     = "caseKeys"
	StateCollection    = "state"
	GlobalStateDoc     = "global"
)

// txMaxAttempts is how often a transaction is tried before its Aborted error
// is returned (as a transient error). Contention on one mapping is normal:
// duplicate deliveries and both pollers can touch it at once.
const txMaxAttempts = 20

// maxTxWrites is Firestore's limit on the writes of one transaction.
const maxTxWrites = 500

// Store is the Firestore implementation of casesync.Store. It is safe for
// concurrent use.
type Store struct {
	client     *firestore.Client
	ownsClient bool
	mappings   *firestore.CollectionRef
	keys       *firestore.CollectionRef
	global     *firestore.DocumentRef

	reads  atomic.Int64
	writes atomic.Int64
}

var _ casesync.Store = (*Store)(nil)

// New connects to the default Firestore database of projectID. With
// FIRESTORE_EMULATOR_HOST set, the client talks to that emulator instead.
func New(ctx context.Context, projectID string, opts ...option.ClientOption) (*Store, error) {
	client, err := firestore.NewClient(ctx, projectID, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: connecting to Firestore of project %q: %w", projectID, err)
	}
	s := NewWithClient(client)
	s.ownsClient = true
	return s, nil
}

// NewWithClient returns a Store that uses client. Close does not close a
// client passed in here.
func NewWithClient(client *firestore.Client) *Store {
	return &Store{
		client:   client,
		mappings: client.Collection(MappingsCollection),
		keys:     client.Collection(KeysCollection),
		global:   client.Collection(StateCollection).Doc(GlobalStateDoc),
	}
}

// Close closes the Firestore client if New created it.
func (s *Store) Close() error {
	if !s.ownsClient {
		return nil
	}
	return s.client.Close()
}

// Writes returns the number of document writes this Store has committed:
// every document created, set, updated or deleted, alone or in a
// transaction. Writes of transaction attempts that did not commit are not
// counted.
func (s *Store) Writes() int64 { return s.writes.Load() }

// Reads returns the number of documents this Store has read, counting a
// lookup of a missing document as one read (as Firestore bills it) and
// every attempt of a retried transaction.
func (s *Store) Reads() int64 { return s.reads.Load() }

// keyRef is the key document of a case. A Google case is keyed by its case
// number; any other key is path-escaped so that '/' and '%' cannot break the
// document id.
func (s *Store) keyRef(side casesync.Side, key string) *firestore.DocumentRef {
	if side == casesync.SideGoogle {
		if n := casesync.CaseNumber(key); n != "" {
			key = n
		}
	}
	return s.keys.Doc(string(side) + "-" + url.PathEscape(key))
}

// keyDoc is the persisted form of a case key.
type keyDoc struct {
	MappingID string `firestore:"mappingId"`
	Side      string `firestore:"side"`
	Key       string `firestore:"key"`
}

// txn wraps a transaction attempt to count its reads and writes.
type txn struct {
	s      *Store
	tx     *firestore.Transaction
	writes int64
}

func (t *txn) getAll(refs ...*firestore.DocumentRef) ([]*firestore.DocumentSnapshot, error) {
	snaps, err := t.tx.GetAll(refs)
	if err == nil {
		t.s.reads.Add(int64(len(refs)))
	}
	return snaps, err
}

func (t *txn) get(ref *firestore.DocumentRef) (*firestore.DocumentSnapshot, error) {
	snaps, err := t.getAll(ref)
	if err != nil {
		return nil, err
	}
	return snaps[0], nil
}

func (t *txn) create(ref *firestore.DocumentRef, data any) error {
	t.writes++
	return t.tx.Create(ref, data)
}

func (t *txn) set(ref *firestore.DocumentRef, data any, opts ...firestore.SetOption) error {
	t.writes++
	return t.tx.Set(ref, data, opts...)
}

func (t *txn) update(ref *firestore.DocumentRef, u []firestore.Update) error {
	t.writes++
	return t.tx.Update(ref, u)
}

func (t *txn) delete(ref *firestore.DocumentRef) error {
	t.writes++
	return t.tx.Delete(ref)
}

// run runs fn in a transaction and counts the writes of the attempt that
// committed. An error fn returns comes back unchanged; Firestore's own errors
// come back classified by classify.
func (s *Store) run(ctx context.Context, op string, fn func(ctx context.Context, t *txn) error) error {
	var fnErr error
	var committed int64
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		t := &txn{s: s, tx: tx}
		fnErr = fn(ctx, t)
		committed = t.writes
		return fnErr
	}, firestore.MaxAttempts(txMaxAttempts))
	if err == nil {
		s.writes.Add(committed)
		return nil
	}
	if fnErr != nil && errors.Is(err, fnErr) && !isRPC(fnErr) {
		return fnErr
	}
	return classify(op, err)
}

// isRPC reports whether err carries a gRPC status, i.e. came from Firestore.
func isRPC(err error) bool {
	_, ok := status.FromError(err)
	return ok
}

// classify turns a Firestore error into the engine's terms: NotFound becomes
// casesync.ErrNotFound, and errors worth retrying are wrapped in
// *casesync.TransientError.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, casesync.ErrNotFound) || errors.Is(err, casesync.ErrConflict) || errors.Is(err, casesync.ErrLeaseHeld) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store %s: %w", op, err)
	}
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("store %s: %w: %w", op, casesync.ErrNotFound, err)
	case codes.Aborted, codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted,
		// AlreadyExists can only come from a create racing another
		// transaction; a retry reads the winner's document.
		codes.AlreadyExists:
		return &casesync.TransientError{Err: fmt.Errorf("store %s: %w", op, err)}
	}
	return fmt.Errorf("store %s: %w", op, err)
}

// notFound is the error for a missing mapping.
func notFound(id string) error {
	return fmt.Errorf("mapping %s: %w", id, casesync.ErrNotFound)
}

// chunks splits ids into groups of at most n, dropping empty and repeated ids.
func chunks(ids []string, n int) [][]string {
	seen := map[string]bool{}
	var out [][]string
	var cur []string
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		cur = append(cur, id)
		if len(cur) == n {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
