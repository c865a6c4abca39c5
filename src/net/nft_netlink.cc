// nf_tables messages built by hand (see nft_netlink.h): a batch of set element and table changes,
// and lookups of one table or chain by name.
#include "net/nft_netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/unique_fd.h"
#include "sys/close_behind.h"

namespace berth::net::nft {
namespace {

// One netlink message under construction, attributes appended in place.
class Message {
 public:
  Message(uint16_t type, uint16_t flags, uint32_t seq, uint8_t family, uint16_t res_id = 0) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    append(&h, sizeof h);
    nfgenmsg g{};
    g.nfgen_family = family;
    g.version = NFNETLINK_V0;
    g.res_id = htons(res_id);
    append(&g, sizeof g);
  }
  void attr(uint16_t type, const void* data, size_t len) {
    nlattr a{};
    a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
    a.nla_type = type;
    append(&a, sizeof a);
    append(data, len);
  }
  void attr(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  size_t begin_nest(uint16_t type) {
    size_t at = buf_.size();
    attr(static_cast<uint16_t>(type | NLA_F_NESTED), nullptr, 0);
    return at;
  }
  void end_nest(size_t at) {
    auto len = static_cast<uint16_t>(buf_.size() - at);
    std::memcpy(buf_.data() + at, &len, sizeof len);  // nla_len is the first field
  }
  // The finished message, its length in the header.
  const std::vector<uint8_t>& bytes() {
    auto len = static_cast<uint32_t>(buf_.size());
    std::memcpy(buf_.data(), &len, sizeof len);  // nlmsg_len is the first field
    return buf_;
  }

 private:
  void append(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
    buf_.resize(NLMSG_ALIGN(buf_.size()), 0);
  }
  std::vector<uint8_t> buf_;
};

uint16_t nft_type(int msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }

// Each socket is closed with sys::close_behind: while deleted objects wait for an RCU grace
// period (this command's or another's), the close of any nf_tables socket waits for it (the
// kernel flushes its destroy work at the release); a caller with a CloseBehind scope goes on.
Result<UniqueFd> open_socket() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd) return Error::from_errno(errno, "open nf_tables netlink socket");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return Error::from_errno(errno, "bind nf_tables netlink socket");
  return fd;
}

Status send_all(int fd, const std::vector<uint8_t>& buf) {
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  ssize_t n = ::sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  if (n < 0) return Error::from_errno(errno, "send to nf_tables");
  if (static_cast<size_t>(n) != buf.size()) return Error::from_errno(EMSGSIZE, "send to nf_tables");
  return {};
}

// Reads replies until every sequence number in [first, last] has been acknowledged; the first
// error reply ends the wait with its errno (the kernel aborts the rest of a batch then).
Status wait_acks(int fd, uint32_t first, uint32_t last, const std::string& what) {
  std::vector<bool> acked(last - first + 1, false);
  size_t left = acked.size();
  std::vector<uint8_t> buf(1 << 16);
  while (left > 0) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 10000);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Error::from_errno(r == 0 ? ETIMEDOUT : errno, what);
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, what);
    }
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;  // a reply to a lookup: its ack follows
      const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      if (e->error != 0) return Error::from_errno(-e->error, what);
      if (h->nlmsg_seq >= first && h->nlmsg_seq <= last && !acked[h->nlmsg_seq - first]) {
        acked[h->nlmsg_seq - first] = true;
        --left;
      }
    }
  }
  return {};
}

void put_elements(Message& m, const Change& c) {
  m.attr(NFTA_SET_ELEM_LIST_TABLE, c.table);
  m.attr(NFTA_SET_ELEM_LIST_SET, c.set);
  size_t list = m.begin_nest(NFTA_SET_ELEM_LIST_ELEMENTS);
  for (const auto& k : c.keys) {
    size_t elem = m.begin_nest(NFTA_LIST_ELEM);
    size_t key = m.begin_nest(NFTA_SET_ELEM_KEY);
    m.attr(NFTA_DATA_VALUE, k.data(), k.size());
    m.end_nest(key);
    m.end_nest(elem);
  }
  m.end_nest(list);
}

std::string describe(const Change& c) {
  switch (c.kind) {
    case Change::kAddElements: return "add to nft set `" + c.table + " " + c.set + "`";
    case Change::kDeleteElements: return "remove from nft set `" + c.table + " " + c.set + "`";
    case Change::kAddTable: return "add nft table `" + c.table + "`";
    case Change::kDeleteTable: return "delete nft table `" + c.table + "`";
  }
  return "change nftables";
}

// A lookup (not a batch): one GET with the names, acknowledged or refused with ENOENT.
Result<bool> exists(uint16_t type, Family family,
                    const std::vector<std::pair<uint16_t, std::string>>& names,
                    const std::string& what) {
  BERTH_ASSIGN_OR_RETURN(UniqueFd fd, open_socket());
  Message m(nft_type(type), NLM_F_REQUEST | NLM_F_ACK, 1, static_cast<uint8_t>(family));
  for (const auto& [attr, name] : names) m.attr(attr, name);
  BERTH_RETURN_IF_ERROR(send_all(fd.get(), m.bytes()));
  auto st = wait_acks(fd.get(), 1, 1, what);
  sys::close_behind(std::move(fd));
  if (st.ok()) return true;
  if (st.error().code() == ENOENT) return false;
  return std::move(st).error();
}

}  // namespace

Status apply(const std::vector<Change>& changes) {
  if (changes.empty()) return {};
  BERTH_ASSIGN_OR_RETURN(UniqueFd fd, open_socket());
  std::vector<uint8_t> batch;
  auto add = [&](Message& m) {
    const auto& b = m.bytes();
    batch.insert(batch.end(), b.begin(), b.end());
  };
  uint32_t seq = 1;
  Message begin(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  add(begin);
  uint32_t first = seq;
  for (const auto& c : changes) {
    uint16_t flags = NLM_F_REQUEST | NLM_F_ACK;
    int type = 0;
    switch (c.kind) {
      case Change::kAddElements: type = NFT_MSG_NEWSETELEM, flags |= NLM_F_CREATE; break;
      case Change::kDeleteElements: type = NFT_MSG_DELSETELEM; break;
      case Change::kAddTable: type = NFT_MSG_NEWTABLE, flags |= NLM_F_CREATE; break;
      case Change::kDeleteTable: type = NFT_MSG_DELTABLE; break;
    }
    Message m(nft_type(type), flags, seq++, static_cast<uint8_t>(c.family));
    if (c.kind == Change::kAddElements || c.kind == Change::kDeleteElements)
      put_elements(m, c);
    else
      m.attr(NFTA_TABLE_NAME, c.table);
    add(m);
  }
  uint32_t last = seq - 1;
  Message end(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  add(end);
  BERTH_RETURN_IF_ERROR(send_all(fd.get(), batch));
  auto st = wait_acks(fd.get(), first, last, "nftables transaction");
  sys::close_behind(std::move(fd));
  if (!st.ok() && changes.size() == 1)
    return Error::from_errno(st.error().code(), describe(changes[0]));
  return st;
}

Status in_netns_of(pid_t pid, const std::function<Status()>& fn) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return Error::from_errno(errno, "open `" + path + "`");
  // setns(CLONE_NEWNET) changes only the calling thread: fn's sockets are made (and used) there.
  Status out = Error::from_errno(EIO, "join the CT's network namespace");
  std::thread t([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0)
      out = Error::from_errno(errno, "join the CT's network namespace");
    else
      out = fn();
  });
  t.join();
  return out;
}

Result<bool> delete_table_in_netns_of(pid_t pid, Family family, const std::string& table) {
  bool was_there = true;
  BERTH_RETURN_IF_ERROR(in_netns_of(pid, [&]() -> Status {
    Status st = apply({{Change::kDeleteTable, family, table, {}, {}}});
    if (st.ok() || st.error().code() != ENOENT) return st;
    was_there = false;
    return {};
  }));
  return was_there;
}

Result<bool> table_exists(Family family, const std::string& table) {
  return exists(NFT_MSG_GETTABLE, family, {{NFTA_TABLE_NAME, table}},
                "look up nft table `" + table + "`");
}

Result<bool> chain_exists(Family family, const std::string& table, const std::string& chain) {
  return exists(NFT_MSG_GETCHAIN, family, {{NFTA_CHAIN_TABLE, table}, {NFTA_CHAIN_NAME, chain}},
                "look up nft chain `" + table + " " + chain + "`");
}

std::vector<uint8_t> ifname_key(const std::string& ifname) {
  std::vector<uint8_t> k(IFNAMSIZ, 0);
  std::memcpy(k.data(), ifname.data(), std::min(ifname.size(), k.size() - 1));
  return k;
}

std::vector<uint8_t> concat_key(const std::vector<std::vector<uint8_t>>& fields) {
  std::vector<uint8_t> k;
  for (const auto& f : fields) {
    k.insert(k.end(), f.begin(), f.end());
    k.resize((k.size() + 3) / 4 * 4, 0);
  }
  return k;
}

}  // namespace berth::net::nft
