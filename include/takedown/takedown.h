/* libtakedown: the umbrella header. */
#ifndef TAKEDOWN_H
#define TAKEDOWN_H

#include "audit.h"
#include "casework.h"
#include "clock.h"
#include "config.h"
#include "eevidence_xml.h"
#include "evidence.h"
#include "evidence_orders.h"
#include "evidence_package.h"
#include "feeds.h"
#include "frank.h"
#include "hash.h"
#include "hash_types.h"
#include "index.h"
#include "media.h"
#include "orders.h"
#include "review_media.h"
#include "server.h"
#include "status.h"
#include "store.h"
#include "text.h"
#include "url.h"
#include "version.h"
#include "video.h"
#include "video_hash.h"

#endif
