// bmqpy_healthmonitor.cpp                                           -*-C++-*-
#include "bmqpy_healthmonitor.h"

#include <bmqt_hosthealthstate.h>

namespace bmqpy {

namespace bmqa = BloombergLP::bmqa;
namespace bmqt = BloombergLP::bmqt;

HealthMonitor::HealthMonitor()
: d_monitor(bsl::make_shared<bmqa::ManualHostHealthMonitor>(
      bmqt::HostHealthState::e_HEALTHY))
{
}

void HealthMonitor::setHealthy()
{
    d_monitor->setState(bmqt::HostHealthState::e_HEALTHY);
}

void HealthMonitor::setUnhealthy()
{
    d_monitor->setState(bmqt::HostHealthState::e_UNHEALTHY);
}

}  // close namespace bmqpy
