// bmqpy_healthmonitor.h                                             -*-C++-*-
//
// A manual host health monitor that a program switches between healthy and
// unhealthy (`blazingmq.BasicHealthMonitor`).

#ifndef INCLUDED_BMQPY_HEALTHMONITOR
#define INCLUDED_BMQPY_HEALTHMONITOR

#include <bmqa_manualhosthealthmonitor.h>

#include <bsl_memory.h>

namespace bmqpy {

/// A manual host health monitor shared with every session that uses it.
class HealthMonitor {
  public:
    HealthMonitor();
    void setHealthy();
    void setUnhealthy();
    const bsl::shared_ptr<BloombergLP::bmqa::ManualHostHealthMonitor>&
    monitor() const
    {
        return d_monitor;
    }

  private:
    bsl::shared_ptr<BloombergLP::bmqa::ManualHostHealthMonitor> d_monitor;
};

}  // close namespace bmqpy

#endif
