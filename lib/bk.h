/*
 * bk.h - the bk library: everything a tool includes.
 */
#ifndef BK_H
#define BK_H

#include "cli.h"
#include "err.h"
#include "gz.h"
#include "io.h"
#include "journal.h"
#include "progress.h"
#include "run.h"
#include "seal.h"
#include "secret.h"
#include "template.h"

#endif
