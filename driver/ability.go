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

// Has reports whether d has ability a: what d reports when it is an
// [AbilityReporter], otherwise whether it implements the interface.
func Has(d Store, a Ability) bool {
	if r, ok := d.(AbilityReporter); ok {
		if !r.HasAbility(a) {
			return false
		}
	}
	var ok bool
	switch a {
	case AbilityList:
		_, ok = d.(Lister)
	case AbilityWrite:
		_, ok = d.(Writer)
	case AbilityDelete:
		_, ok = d.(Deleter)
	case AbilityVersions:
		_, ok = d.(Versioner)
	case AbilityBatchGet:
		_, ok = d.(BatchGetter)
	case AbilityRotate:
		_, ok = d.(Rotator)
	case AbilityDisableVersion:
		_, ok = d.(VersionDisabler)
	case AbilityBatchPut:
		_, ok = d.(BatchWriter)
	case AbilityStamps:
		_, ok = d.(ChangeStamper)
	case AbilityListValues:
		_, ok = d.(ValueLister)
	}
	return ok
}
