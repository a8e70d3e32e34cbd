/*
 * The board layout of the Linux XS host (SEALDROP_LAYOUT), read from its JSON file and checked
 * (native/lin/layout-json-lin.c). native/lin/flash-lin.c lays the flash file out by it.
 */
#ifndef SEALDROP_LAYOUT_JSON_LIN_H
#define SEALDROP_LAYOUT_JSON_LIN_H

#include <stddef.h>
#include <stdint.h>

#define kSealdropLayoutMaxPartitions 16
#define kSealdropLayoutMaxName 32 /* with the NUL */

typedef struct {
	char name[kSealdropLayoutMaxName];
	uint32_t offset, size;
	uint32_t blockLength; /* its erase unit; 0 when the JSON gives none: the flash's */
} SealdropPartition;

typedef struct {
	char name[kSealdropLayoutMaxName];
	uint32_t size, blockLength, writeAlign, eraseValue;
	int count;
	SealdropPartition partitions[kSealdropLayoutMaxPartitions];
} SealdropLayout;

/* Reads and checks the layout in `file` into *layout: 0, or -1 with what is wrong in `error`
   ("FILE:LINE:COLUMN: what" for the JSON, "FILE: what" for the values). */
int sealdropLayoutLoad(const char* file, SealdropLayout* layout, char* error, size_t errorSize);

/* A partition's erase unit: its own blockLength (a board with mixed sector sizes) or the flash's. */
static inline uint32_t sealdropPartitionBlock(const SealdropLayout* l, const SealdropPartition* p)
{
	return p->blockLength ? p->blockLength : l->blockLength;
}

#endif
