//! The ShoppingCartAPI routes. Every one runs behind the `ScopeGate` middleware, so a handler
//! only runs for a token with the route's scope, and `Principal` says who sent it.

use std::sync::{Mutex, PoisonError};

use actix_web::{HttpRequest, HttpResponse, error, web};
use scopegate_edge::Principal;
use serde::{Deserialize, Serialize};

/// Largest JSON body accepted.
const MAX_BODY: usize = 16 * 1024;

/// The in-memory shop: orders and cart items, gone at restart.
#[derive(Debug, Default)]
pub struct Shop {
    /// Placed orders, oldest first.
    orders: Mutex<Vec<Order>>,
    /// Items in the cart, oldest first.
    items: Mutex<Vec<Item>>,
}

/// A placed order.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    id: usize,
    item: String,
    quantity: u32,
    /// The token's subject: who placed it.
    created_by: String,
}

/// An item in the cart.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    id: usize,
    name: String,
    added_by: String,
}

/// `POST /orders` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    item: String,
    #[serde(default = "one")]
    quantity: u32,
}

fn one() -> u32 {
    1
}

/// `POST /items` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    name: String,
}

/// Mounts the routes; a JSON body error is a 400 in scopegate's error shape.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_BODY)
            .error_handler(bad_json),
    )
    .service(
        web::resource("/orders")
            .route(web::get().to(list_orders))
            .route(web::post().to(add_order)),
    )
    .service(
        web::resource("/items")
            .route(web::get().to(list_items))
            .route(web::post().to(add_item)),
    );
}

/// `GET /orders` (scope `order_view`).
async fn list_orders(shop: web::Data<Shop>) -> HttpResponse {
    let orders = shop.orders.lock().unwrap_or_else(PoisonError::into_inner);
    HttpResponse::Ok().json(&*orders)
}

/// `POST /orders` (scope `order_add`): 201 with the order, `created_by` the caller.
async fn add_order(
    shop: web::Data<Shop>,
    principal: Principal,
    body: web::Json<NewOrder>,
) -> HttpResponse {
    let mut orders = shop.orders.lock().unwrap_or_else(PoisonError::into_inner);
    let order = Order {
        id: orders.len() + 1,
        item: body.item.clone(),
        quantity: body.quantity,
        created_by: principal.subject,
    };
    orders.push(order.clone());
    HttpResponse::Created().json(order)
}

/// `GET /items` (scope `item_view`).
async fn list_items(shop: web::Data<Shop>) -> HttpResponse {
    let items = shop.items.lock().unwrap_or_else(PoisonError::into_inner);
    HttpResponse::Ok().json(&*items)
}

/// `POST /items` (scope `item_add`): 201 with the item.
async fn add_item(
    shop: web::Data<Shop>,
    principal: Principal,
    body: web::Json<NewItem>,
) -> HttpResponse {
    let mut items = shop.items.lock().unwrap_or_else(PoisonError::into_inner);
    let item = Item {
        id: items.len() + 1,
        name: body.into_inner().name,
        added_by: principal.subject,
    };
    items.push(item.clone());
    HttpResponse::Created().json(item)
}

fn bad_json(err: error::JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let body = serde_json::json!({
        "error": "invalid_request",
        "error_description": err.to_string(),
    });
    error::InternalError::from_response(err, HttpResponse::BadRequest().json(body)).into()
}
