package driver

// Ability names an optional ability of a driver.
type Ability string

// The optional abilities, by the interface that provides each.
const (
	AbilityList           Ability = "list"            // Lister
	AbilityWrite          Ability = "write"           // Writer
	AbilityDelete         Ability = "delete"          // Deleter
	AbilityVersions       Ability = "versions"        // Versioner
	AbilityBatchGet       Ability = "batch_get"       // BatchGetter
	AbilityRotate         Ability = "rotate"          // Rotator (native rotation)
	AbilityDisableVersion Ability = "disable_version" // VersionDisabler
	AbilityBatchPut       Ability = "batch_put"       // BatchWriter
	AbilityStamps         Ability = "stamps"          // ChangeStamper
	AbilityListValues     Ability = "list_values"     // ValueLister (whether it lists values now is ValuesListed)
)

// AbilityReporter is implemented by a driver whose methods exist for every
// ability but work only for some: a proxy such as the plugin client, which
// learns the abilities of the program behind it at run time. When a driver
// implements it, [Has] believes it rather than the method set.
type AbilityReporter interface {
	HasAbility(Ability) bool
}

// abilities pairs each ability with a test for the interface that
// provides it, in the order Abilities lists them.
var abilities = []struct {
	a  Ability
	is func(Store) bool
}{
	{AbilityList, is[Lister]},
	{AbilityWrite, is[Writer]},
	{AbilityDelete, is[Deleter]},
	{AbilityVersions, is[Versioner]},
	{AbilityBatchGet, is[BatchGetter]},
	{AbilityRotate, is[Rotator]},
	{AbilityDisableVersion, is[VersionDisabler]},
	{AbilityBatchPut, is[BatchWriter]},
	{AbilityStamps, is[ChangeStamper]},
	{AbilityListValues, is[ValueLister]},
}

func is[T any](d Store) bool { _, ok := d.(T); return ok }

// Abilities lists every optional ability, in a fixed order (a plugin
// reports those its store has, in this order).
func Abilities() []Ability {
	out := make([]Ability, len(abilities))
	for i, e := range abilities {
		out[i] = e.a
	}
	return out
}

// Has reports whether d has ability a: what d reports when it is an
// [AbilityReporter], otherwise whether it implements the interface.
func Has(d Store, a Ability) bool {
	if r, ok := d.(AbilityReporter); ok && !r.HasAbility(a) {
		return false
	}
	for _, e := range abilities {
		if e.a == a {
			return e.is(d)
		}
	}
	return false
}
