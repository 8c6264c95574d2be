# Read by cpack when it builds the package (CPACK_PROJECT_CONFIG_FILE).
# Without dpkg-shlibdeps (package dpkg-dev) CPack only prints "Using only
# user-provided dependencies" and builds a .deb whose Depends: names none of
# the shared libraries: it installs anywhere and then fails to start.
if(CPACK_GENERATOR STREQUAL "DEB" AND CPACK_DEBIAN_PACKAGE_SHLIBDEPS)
    find_program(RELAYPOOL_DPKG_SHLIBDEPS dpkg-shlibdeps)
    if(NOT RELAYPOOL_DPKG_SHLIBDEPS)
        message(FATAL_ERROR "relaypool: dpkg-shlibdeps not found: install dpkg-dev "
                            "(sudo apt-get install dpkg-dev), or the package would not depend on its libraries")
    endif()
endif()
