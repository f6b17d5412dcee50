package db

import (
	"context"
	"database/sql"
	"sync"
)

// FenceConns are the two connections a fence works on, taken from the
// pool and readied before the fence is issued: the fence's own, which
// sends the fence statement, and its control's, which reads the state and
// the processlist and kills what holds the fence up. A drain prepares them
// while its preconditions run, so that its fence begins with the fence
// statement rather than with a connection's dial and the round trips that
// learn the connection ids (1-5 ms on this 2-core machine under a
// transactional load). Preparing changes nothing on the server.
//
// FenceConns are for one fence; Close hands them back to the pool.
type FenceConns struct {
	s              *Server
	dialect        Dialect
	fence, ctl     *sql.Conn
	fenceID, ctlID int64
	close          sync.Once
}

// PrepareFence takes and readies the two connections of a fence.
func (s *Server) PrepareFence(ctx context.Context) (*FenceConns, error) {
	const op = "prepare the fence on"
	d, err := s.Dialect(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c := &FenceConns{s: s, dialect: d}
	// Both at once: each is a dial (when the pool has no idle connection)
	// and a round trip.
	var fenceErr, ctlErr error
	var wg sync.WaitGroup
	wg.Go(func() { c.fence, c.fenceID, fenceErr = s.connWithID(ctx) })
	wg.Go(func() { c.ctl, c.ctlID, ctlErr = s.connWithID(ctx) })
	wg.Wait()
	if fenceErr != nil || ctlErr != nil {
		c.Close()
		if fenceErr == nil {
			fenceErr = ctlErr
		}
		return nil, s.fail(op, fenceErr)
	}
	return c, nil
}

// connWithID takes a connection from the pool and reads its id.
func (s *Server) connWithID(ctx context.Context) (*sql.Conn, int64, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, 0, err
	}
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		conn.Close()
		return nil, 0, err
	}
	return conn, id, nil
}

// Close hands the connections back to the pool; it may be called more
// than once.
func (c *FenceConns) Close() {
	c.close.Do(func() {
		if c.fence != nil {
			c.fence.Close()
		}
		if c.ctl != nil {
			c.ctl.Close()
		}
	})
}

// own are the fence's connections, which it never kills.
func (c *FenceConns) own() map[int64]bool { return map[int64]bool{c.fenceID: true, c.ctlID: true} }

// ReadOnly reads the server's read-only state on the control connection.
func (c *FenceConns) ReadOnly(ctx context.Context) (ReadOnlyState, error) {
	ctx, cancel := c.s.bound(ctx)
	defer cancel()
	st, err := readReadOnly(ctx, c.ctl, c.dialect)
	if err != nil {
		return ReadOnlyState{}, c.s.fail("read read_only", err)
	}
	return st, nil
}

// GTIDPosition reads the server's executed GTID position (see
// Server.GTIDPosition) on the control connection.
func (c *FenceConns) GTIDPosition(ctx context.Context) (string, error) {
	ctx, cancel := c.s.bound(ctx)
	defer cancel()
	pos, err := readGTIDPosition(ctx, c.ctl, c.dialect)
	if err != nil {
		return "", c.s.fail("read gtid position", err)
	}
	return pos, nil
}

// readFenced reads the state and the executed GTID position in one round
// trip, on the control connection: once a fence has landed, that position
// is the frozen one.
func (c *FenceConns) readFenced(ctx context.Context) (ReadOnlyState, string, error) {
	ctx, cancel := c.s.bound(ctx)
	defer cancel()
	q := "SELECT " + readOnlyColumns(c.dialect) + ", " + executedColumn(c.dialect)
	var ro, sro, pos sql.NullString
	if err := c.ctl.QueryRowContext(ctx, q).Scan(&ro, &sro, &pos); err != nil {
		return ReadOnlyState{}, "", c.s.fail("read read_only and the gtid position", err)
	}
	return readOnlyState(c.dialect, ro, sro), compactGTIDSet(pos.String), nil
}
