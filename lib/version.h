/*
 * version.h - the version and git revision baked into every binary.
 *
 * The Makefile passes -DSLUICE_VERSION (from the VERSION file) and
 * -DSLUICE_GIT_REV (git rev-parse --short HEAD); these fallbacks keep a file
 * compiled by hand, or by a tool that does not pass them, building.
 */
#ifndef SLUICE_VERSION_H
#define SLUICE_VERSION_H

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0-dev"
#endif

#ifndef SLUICE_GIT_REV
#define SLUICE_GIT_REV "unknown"
#endif

#endif /* SLUICE_VERSION_H */
