package compliance

import (
	"fmt"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Log levels of the input's own log_level field (Cribl's "Log Level").
const (
	levelTrace = iota
	levelDebug
	levelInfo
	levelWarn
	levelError
)

var logLevels = map[string]int{"TRACE": levelTrace, "DEBUG": levelDebug, "INFO": levelInfo, "WARN": levelWarn, "ERROR": levelError}

// inputLog is the input's logger with its own level. Messages below the level
// are dropped. With log_level DEBUG or TRACE, debug and trace messages are
// written at INFO (prefixed with their level), so one input can be made
// verbose for troubleshooting while logger.level stays INFO. Empty: every
// message goes to the Benthos logger as is.
type inputLog struct {
	l   *service.Logger
	min int // -1: no own level
}

func newInputLog(l *service.Logger, level string) inputLog {
	if level == "" {
		return inputLog{l: l, min: -1}
	}
	return inputLog{l: l, min: logLevels[strings.ToUpper(level)]}
}

func (g inputLog) With(kv ...any) inputLog { return inputLog{l: g.l.With(kv...), min: g.min} }

func (g inputLog) emit(level int, msg string) {
	if g.min >= 0 && level < g.min {
		return
	}
	// The Benthos logger treats its message as a printf format: pass msg
	// as an argument so that a '%' in it (a URL, an error text) survives.
	switch {
	case level >= levelError:
		g.l.Errorf("%s", msg)
	case level == levelWarn:
		g.l.Warnf("%s", msg)
	case level == levelInfo:
		g.l.Infof("%s", msg)
	case g.min >= 0:
		// Promoted: the input asked for its debug output.
		name := "debug"
		if level == levelTrace {
			name = "trace"
		}
		g.l.With("detail", name).Infof("%s", msg)
	case level == levelDebug:
		g.l.Debugf("%s", msg)
	default:
		g.l.Tracef("%s", msg)
	}
}

func (g inputLog) Tracef(f string, a ...any) { g.emit(levelTrace, fmt.Sprintf(f, a...)) }
func (g inputLog) Debugf(f string, a ...any) { g.emit(levelDebug, fmt.Sprintf(f, a...)) }
func (g inputLog) Infof(f string, a ...any)  { g.emit(levelInfo, fmt.Sprintf(f, a...)) }
func (g inputLog) Warnf(f string, a ...any)  { g.emit(levelWarn, fmt.Sprintf(f, a...)) }
func (g inputLog) Errorf(f string, a ...any) { g.emit(levelError, fmt.Sprintf(f, a...)) }
func (g inputLog) Info(msg string)           { g.emit(levelInfo, msg) }
func (g inputLog) Warn(msg string)           { g.emit(levelWarn, msg) }
func (g inputLog) Error(msg string)          { g.emit(levelError, msg) }
