# The Debian package (scripts/package): autoenroll_<version>_<arch>.deb with the binary,
# the descriptor set, the docs, the systemd unit and the default configuration. Its
# dependencies are the Debian libraries the binary links (dpkg-shlibdeps) plus adduser.
# Build it from a tree configured with CMAKE_INSTALL_PREFIX=/usr, so /etc is /etc.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME autoenroll)
set(CPACK_PACKAGE_VENDOR autoenroll)
set(CPACK_PACKAGE_CONTACT "autoenroll maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "event-sourced auto-enrollment engine for Apple DEP and Samsung KME")
set(CPACK_PACKAGE_DESCRIPTION
    "autoenroll keeps DEP accounts, tokens, profiles and assignments, imports Knox devices,\n\
answers the devices' enrollment calls and records every action as an immutable,\n\
hash-chained Protobuf event (embedded RocksDB log, or Apache Kafka).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/postinst ${CMAKE_CURRENT_LIST_DIR}/prerm
    ${CMAKE_CURRENT_LIST_DIR}/postrm ${CMAKE_CURRENT_LIST_DIR}/conffiles)
include(CPack)
