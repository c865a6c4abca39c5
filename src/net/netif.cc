// NETIF host-side aliases (see netif.h).
#include "net/netif.h"

namespace berth::net {

std::string netif_alias_prefix(std::string_view instance, std::string_view ctid) {
  return "berth:" + std::string(instance) + ":" + std::string(ctid) + ":";
}

std::string netif_alias(std::string_view instance, std::string_view ctid, std::string_view ifname) {
  return netif_alias_prefix(instance, ctid) + std::string(ifname);
}

}  // namespace berth::net
