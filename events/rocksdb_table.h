#pragma once
// The table options of the log and the views: point lookups over millions of keys inside one
// block-cache budget.
//
// Index and Bloom filter are partitioned into small blocks that the cache keeps like data
// blocks; only their top level stays pinned. A whole-file filter or index of a large SST
// (megabytes for a million keys) is bigger than a shard of the LRU cache (the cache is split
// into 64 shards): it was read from the file and checksummed again on every lookup, and that
// dominated reads once the views held a million devices.

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <cstddef>

namespace ae::events {

inline rocksdb::BlockBasedTableOptions LookupTableOptions(size_t block_cache_bytes) {
  rocksdb::BlockBasedTableOptions table;
  rocksdb::LRUCacheOptions cache;
  cache.capacity = block_cache_bytes;
  cache.high_pri_pool_ratio = 0.5;  // index and filter partitions outlive data blocks
  table.block_cache = rocksdb::NewLRUCache(cache);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.cache_index_and_filter_blocks = true;  // inside the budget, not beside it
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  return table;
}

}  // namespace ae::events
