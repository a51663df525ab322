package store

import (
	"context"
	"database/sql/driver"
)

// The SQLite driver parses a query's text each time it is run unless the
// query was prepared first, and database/sql prepares nothing by itself:
// parsing was a third of the CPU of a step's records. Each SQLite
// connection here keeps its statements, by their text, and runs a query
// again with the one it prepared before; River's queries, on the same
// connections, too. PostgreSQL's driver has a statement cache of its own.

// maxCachedStmts bounds a connection's statements: onramp and River run
// fewer distinct queries; a query beyond the bound is prepared each time.
const maxCachedStmts = 256

// cachingConnector opens SQLite connections that keep their statements.
type cachingConnector struct{ driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{sqliteConn: conn.(sqliteConn), stmts: map[string]*cachedStmt{}}, nil
}

// sqliteConn is what database/sql uses of a SQLite driver connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is a connection that keeps its prepared statements. Like
// every driver connection, it is used by one goroutine at a time.
type cachingConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
}

// cachedStmt is a prepared statement; busy while rows of it are open,
// when the same query on the connection gets a statement of its own.
type cachedStmt struct {
	stmt driver.Stmt
	busy bool
}

// stmt returns a prepared statement for query and the function to call
// once it is no longer in use.
func (c *cachingConn) stmt(ctx context.Context, query string) (driver.Stmt, func(), error) {
	if s, ok := c.stmts[query]; ok && !s.busy {
		s.busy = true
		return s.stmt, func() { s.busy = false }, nil
	}
	st, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := c.stmts[query]; ok || len(c.stmts) >= maxCachedStmts {
		return st, func() { st.Close() }, nil
	}
	s := &cachedStmt{stmt: st, busy: true}
	c.stmts[query] = s
	return st, func() { s.busy = false }, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, release, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	defer release()
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, release, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		release()
		return nil, err
	}
	return &releasingRows{sqliteRows: rows.(sqliteRows), release: release}, nil
}

// Close closes the connection's statements, then the connection.
func (c *cachingConn) Close() error {
	for _, s := range c.stmts {
		s.stmt.Close()
	}
	c.stmts = nil
	return c.sqliteConn.Close()
}

// sqliteRows is what the SQLite driver's rows offer database/sql.
type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// releasingRows gives its statement back when closed.
type releasingRows struct {
	sqliteRows
	release func()
}

func (r *releasingRows) Close() error {
	err := r.sqliteRows.Close()
	if r.release != nil {
		r.release()
		r.release = nil
	}
	return err
}
