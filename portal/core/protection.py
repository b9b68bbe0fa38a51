"""The protection tag: no cleanup policy ever touches a resource carrying it (whatever its value). Every tag list
shows it as protected."""

PROTECTION_TAG = "rtc-portal:keep"
