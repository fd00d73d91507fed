package reputation

// CapRequester is the capability under which a provider rates the
// requesters it works for, with the outcomes Paid, Disputed and Settled.
// Every other capability (a market key such as "runtime/wasm") rates a
// provider with Success, Failure, Timeout, WrongResult and MissedStart.
const CapRequester = "requester"

// Valid reports whether o is one of the outcomes above.
func (o Outcome) Valid() bool {
	switch o {
	case Success, Failure, Timeout, WrongResult, MissedStart, Paid, Disputed, Settled:
		return true
	}
	return false
}

// Positive reports whether o counts for its subject (α) rather than
// against it (β).
func (o Outcome) Positive() bool {
	return o == Success || o == Paid || o == Settled
}

// AboutRequester reports whether o rates a requester (capability
// CapRequester) rather than a provider.
func (o Outcome) AboutRequester() bool {
	return o == Paid || o == Disputed || o == Settled
}

// fits reports whether o may be recorded under capability c.
func (o Outcome) fits(c string) bool {
	return o.Valid() && o.AboutRequester() == (c == CapRequester)
}
